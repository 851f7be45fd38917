// libedit (Debian's libedit-dev): the native API, for the few calls Swift
// makes directly (el_line, el_insertstr, el_end, history_end). Everything
// variadic or stateful is in the CLineEditing target.
#ifndef LCDB_CEDITLINE_SHIM_H
#define LCDB_CEDITLINE_SHIM_H

#include <histedit.h>

#endif
