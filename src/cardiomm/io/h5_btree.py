"""Walk the version-1 B-trees of an HDF5 file before libhdf5 does.

libhdf5 follows B-tree child pointers without checking that they lead down: a node that points back to
itself (or to an ancestor) makes it recurse until the stack overflows, a segmentation fault on the
first name lookup or chunk access. :func:`check_btrees` walks, from the superblock, every group's
symbol-table B-tree and every chunked dataset's chunk B-tree (the structures of files with a version 0
or 1 superblock: what h5py, MATLAB, ISMRMRD and fastMRI write) and requires each child to sit exactly
one level below its parent, with a ``TREE`` / ``SNOD`` signature, inside the file. Newer structures
(version 2/3 superblocks, object header version 2, new-style groups and chunk indexes) are not
walked. Groups that hard-link back to an ancestor (legal in HDF5) are visited once.
"""

from __future__ import annotations

import mmap
import os

from cardiomm.errors import FileFormatError

__all__ = ["check_btrees"]

_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_LAYOUT, _CONTINUATION, _SYMBOL_TABLE = 0x0008, 0x0010, 0x0011
_MAX_NODES = 2_000_000
_UNDEFINED = 2**64 - 1
_CHECKED: dict[tuple[int, int, int, int], None] = {}  # (device, inode, size, mtime) of checked files


class _Bad(Exception):
    pass


class _Walker:
    def __init__(self, mm: mmap.mmap, size: int, base: int) -> None:
        self.mm, self.size, self.base = mm, size, base
        self.nodes = 0
        self.groups: set[int] = set()
        self.objects: set[int] = set()

    def at(self, addr: int, n: int) -> int:
        """The file offset of ``n`` bytes at relative address ``addr`` (checked to be in the file)."""
        pos = self.base + addr
        if addr < 0 or pos + n > self.size:
            raise _Bad(f"address {addr} outside the file")
        return pos

    def u(self, pos: int, n: int) -> int:
        return int.from_bytes(self.mm[pos : pos + n], "little")

    def btree(self, addr: int, node_type: int, key_size: int, level: int | None, depth: int = 0) -> list[int]:  # noqa: E501
        """Leaf child addresses of the v1 B-tree at ``addr``; each level exactly one below its parent."""
        if addr == _UNDEFINED:
            return []  # no chunk written yet
        self.nodes += 1
        if self.nodes > _MAX_NODES or depth > 64:
            raise _Bad("B-tree too large or too deep")
        pos = self.at(addr, 24)
        if self.mm[pos : pos + 4] != b"TREE" or self.mm[pos + 4] != node_type:
            raise _Bad(f"no B-tree node of type {node_type} at address {addr}")
        node_level, entries = self.mm[pos + 5], self.u(pos + 6, 2)
        if level is not None and node_level != level:
            raise _Bad(f"B-tree node at address {addr} has level {node_level}, {level} expected")
        self.at(addr, 24 + entries * (key_size + 8) + key_size)
        children = [self.u(pos + 24 + key_size + k * (key_size + 8), 8) for k in range(entries)]
        if node_level == 0:
            return children
        leaves = []
        for child in children:
            leaves += self.btree(child, node_type, key_size, node_level - 1, depth + 1)
        return leaves

    def group(self, btree_addr: int) -> None:
        if btree_addr in self.groups:
            return
        self.groups.add(btree_addr)
        for snod in self.btree(btree_addr, 0, 8, None):
            pos = self.at(snod, 8)
            if self.mm[pos : pos + 4] != b"SNOD":
                raise _Bad(f"no symbol table node at address {snod}")
            n = self.u(pos + 6, 2)
            self.at(snod, 8 + 40 * n)
            for k in range(n):
                entry = pos + 8 + 40 * k
                header, cache = self.u(entry + 8, 8), self.u(entry + 16, 4)
                if cache == 1:
                    self.group(self.u(entry + 24, 8))
                else:
                    self.object(header)

    def object(self, addr: int) -> None:
        """A version-1 object header: walk the B-tree of its symbol table or chunked layout."""
        if addr in self.objects:
            return
        self.objects.add(addr)
        pos = self.at(addr, 16)
        if self.mm[pos] != 1:
            return  # version 2 object header ("OHDR"): not walked
        blocks = [(pos + 16, self.u(pos + 8, 4))]
        seen = 0
        while blocks:
            p, length = blocks.pop()
            end = p + length
            if end > self.size:
                raise _Bad(f"object header at address {addr} runs past the file")
            while p + 8 <= end:
                seen += 1
                if seen > 65536:
                    raise _Bad(f"object header at address {addr} has too many messages")
                kind, size = self.u(p, 2), self.u(p + 2, 2)
                body = p + 8
                if kind == _CONTINUATION and len(blocks) < 1024:
                    blocks.append((self.at(self.u(body, 8), 0), self.u(body + 8, 8)))
                elif kind == _SYMBOL_TABLE:
                    self.group(self.u(body, 8))
                elif kind == _LAYOUT and self.mm[body] == 3 and self.mm[body + 1] == 2:
                    rank = self.mm[body + 2]  # dataset rank + 1 (the element size)
                    self.btree(self.u(body + 3, 8), 1, 8 + 8 * rank, None)
                p = body + size


def check_btrees(filename: str | os.PathLike[str], path: str | os.PathLike[str] | None = None) -> None:
    """Walk the file's version-1 B-trees (module docstring); cached per path, size and mtime.

    Raises
    ------
    FileFormatError
        A B-tree child that does not lead one level down (a cycle), or a node outside the file.
    """
    st = os.stat(filename)
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)  # the file itself, whatever path names it
    if key in _CHECKED or st.st_size < 96:
        return
    with open(filename, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        sb = next((o for o in (0, 512, 1024, 2048, 4096, 8192) if mm[o : o + 8] == _SIGNATURE), None)
        if (
            sb is None
            or sb + 96 > st.st_size
            or mm[sb + 8] not in (0, 1)
            or mm[sb + 13 : sb + 15] != b"\x08\x08"
        ):
            return  # no v0/v1 superblock with 8-byte addresses: not walked
        entry = sb + (24 if mm[sb + 8] == 0 else 28) + 32  # after base/free-space/EOF/driver addresses
        base = int.from_bytes(mm[entry - 32 : entry - 24], "little")
        walker = _Walker(mm, st.st_size, base)
        try:
            if int.from_bytes(mm[entry + 16 : entry + 20], "little") == 1:
                walker.group(int.from_bytes(mm[entry + 24 : entry + 32], "little"))
            else:
                walker.object(int.from_bytes(mm[entry + 8 : entry + 16], "little"))
        except _Bad as err:
            msg = f"damaged HDF5 structure: {err}"
            raise FileFormatError(msg, path=path if path is not None else filename) from None
    if len(_CHECKED) > 256:
        _CHECKED.clear()
    _CHECKED[key] = None
