// The porta._porta extension module; the package porta (porta/__init__.py) re-exports it.
#include "porta_python.h"

NB_MODULE(_porta, m) {
  namespace pp = porta_python;
  m.doc() = "Porta's C API (porta.h) and operator library (porta_ops.h) for Python.";
  // Objects a script leaves in module globals are still alive when the interpreter exits; their
  // cores release the Porta handles then, in dependency order, so there is nothing to report.
  pp::nb::set_leak_warnings(false);
  pp::BindErrors(m);
  pp::BindRuntime(m);
  pp::BindMemory(m);
  pp::BindModules(m);
  pp::BindTensors(m);
  pp::BindOps(m);
}
