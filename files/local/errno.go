package local

import "syscall"

// syscallENOTDIR is what opening "a/b" reports when "a" is a file.
const syscallENOTDIR = syscall.ENOTDIR
