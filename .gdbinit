# Debugging a dmos node: `make gdb` boots a cluster with one node stopped
# before its first instruction and prints the command that attaches to it.
# This file loads the kernel's symbols; run gdb from the repository root.
set architecture i386:x86-64
file build/kernel.elf
set disassembly-flavor att
echo dmos: kernel symbols loaded from build/kernel.elf\n
