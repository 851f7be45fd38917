import LCDBCore
import LCDBShell

// OpenBLAS's own kernel choice falls back to slow ones on CPUs it does not
// know; redo it from the CPU's flags before any BLAS call.
OpenBLASKernels.useNativeKernels()

// A statement given to -c or -f may start with '-' (`-c '-norm(g);'`), which
// the argument parser would take for an option: join such values to their
// flag (`-c=-norm(g);`) first, as `--command=...` already worked.
LCDBCommand.main(LCDBCommand.joiningDashValues(Array(CommandLine.arguments.dropFirst())))
