"""MR physics on complex64 tensors: centred FFTs, coil combination, SENSE operators, coil maps."""

from cardiomm.physics.fft import fft2c, fft2c_np, ifft2c, ifft2c_np

__all__ = ["fft2c", "ifft2c", "fft2c_np", "ifft2c_np"]
