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

/* A new reference to the name of `type`: its qualified name (ht_qualname for
 * a class, the part of tp_name after the last dot for a static type) and,
 * with `with_module` and a module other than builtins, "module.qualname" (the
 * module from the class's own dict when it is a str, or from tp_name).
 * Returns NULL only with MemoryError set. */
PyObject *hlpy_safe_type_name(PyTypeObject *type, int with_module);

/* A new reference to a short description of `obj`, at most about `limit`
 * characters of its value: repr() of exact builtin scalars (int, float,
 * complex, bool, None, str and bytes cut to `limit`), sizes of exact builtin
 * containers (`<dict of 3 items>`), names of functions, code objects, modules
 * and classes, `<TypeName object at 0x...>` for the rest. Returns NULL only
 * with MemoryError set. */
PyObject *hlpy_safe_repr(PyObject *obj, Py_ssize_t limit);

/* A new reference to the __name__ in module `module`'s dict when it is a str,
 * else to "?". Returns NULL only with MemoryError set. */
PyObject *hlpy_safe_module_name(PyObject *module);

/* Module functions (heaplens._core):
 *   type_name(obj, qualified=False) -> str, the name of type(obj);
 *   type_names(objs: list, qualified=False) -> [str];
 *   name_of_type(type, qualified=False) -> str (TypeError if not a type);
 *   safe_repr(obj, limit=60) -> str;
 *   module_str(module) -> str, the module's __name__ or "?". */
PyObject *hlpy_type_name(PyObject *module, PyObject *args);
PyObject *hlpy_type_names(PyObject *module, PyObject *args);
PyObject *hlpy_name_of_type(PyObject *module, PyObject *args);
PyObject *hlpy_safe_repr_function(PyObject *module, PyObject *args);
PyObject *hlpy_module_str(PyObject *module, PyObject *obj);

#endif /* HLPY_SAFE_NAMES_H */
