/* safe_names.h - names and short descriptions of objects that run none of
 * their Python code.
 *
 * heaplens describes objects it does not own: a lazy proxy whose __class__
 * property raises, a __repr__ that raises or blocks, a metaclass whose
 * __name__ is a property. Everything here reads C fields (Py_TYPE(obj),
 * tp_name, ht_qualname, a type's or a module's own dict) and renders only
 * builtin types it knows; anything else is `<TypeName object at 0x...>`.
 * No function here calls a descriptor, __repr__, __eq__ or __hash__ of a
 * user object, nor leaves an exception set but for MemoryError.
 */
#ifndef HLPY_SAFE_NAMES_H
#define HLPY_SAFE_NAMES_H

#include <Python.h>

#include "hl_common.h"

#define HLPY_NAME_QUALIFIED 1 /* __qualname__ ("Outer.Inner"), not __name__ */
#define HLPY_NAME_MODULE 2    /* "module.name", unless the module is builtins */

/* A new reference to the name of `type`, as `flags` (HLPY_NAME_...) ask:
 * for a class, ht_name or ht_qualname and the __module__ in its own dict
 * when that is a str; for a static type, the parts of tp_name around its
 * last dot. Returns NULL only with MemoryError set. */
HL_WARN_UNUSED PyObject *hlpy_safe_type_name(PyTypeObject *type, int flags);

/* A new reference to a short description of `obj`, at most about `limit`
 * characters of its value: repr() of exact builtin scalars (int, float,
 * complex, bool, None, str and bytes cut to `limit`), sizes of exact builtin
 * containers (`<dict of 3 items>`), names of functions, code objects, modules
 * and classes, `<TypeName object at 0x...>` for the rest. Returns NULL only
 * with MemoryError set. */
HL_WARN_UNUSED PyObject *hlpy_safe_repr(PyObject *obj, Py_ssize_t limit);

/* A new reference to the __name__ in module `module`'s dict when it is a str,
 * else to "?". Returns NULL only with MemoryError set. */
HL_WARN_UNUSED PyObject *hlpy_safe_module_name(PyObject *module);

/* Module functions (heaplens._core):
 *   type_name(obj, qualified=False, with_module=False) -> str, the name of
 *     type(obj);
 *   type_names(objs: list, qualified=False, with_module=False) -> [str];
 *   name_of_type(type, qualified=False, with_module=False) -> str
 *     (TypeError if not a type);
 *   safe_repr(obj, limit=60) -> str;
 *   module_str(module, key="__name__") -> str or None: a str in a module's
 *     own dict (None when obj is no module, or the value no exact str). */
HL_WARN_UNUSED PyObject *hlpy_type_name(PyObject *module, PyObject *args);
HL_WARN_UNUSED PyObject *hlpy_type_names(PyObject *module, PyObject *args);
HL_WARN_UNUSED PyObject *hlpy_name_of_type(PyObject *module, PyObject *args);
HL_WARN_UNUSED PyObject *hlpy_safe_repr_function(PyObject *module, PyObject *args);
HL_WARN_UNUSED PyObject *hlpy_module_str(PyObject *module, PyObject *args);

#endif /* HLPY_SAFE_NAMES_H */
