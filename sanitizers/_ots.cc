// The OpenType Sanitizer (third_party/ots) called in-process: font bytes in, OTS's rewriting of
// them out. A process per font cost ~3 ms; this costs what OTS does, ~0.1 ms for a subset.
// The GIL is released while OTS runs. A font OTS refuses raises ValueError with its first
// error message; running out of memory raises MemoryError.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdarg>
#include <cstdio>
#include <new>
#include <string>

#include "opentype-sanitiser.h"
#include "ots-memory-stream.h"

namespace {

// The largest rewritten font kept in memory: far above any embedded font or its subset.
constexpr size_t kMaxOutput = 64 * 1024 * 1024;

// Keeps OTS's first error, the reason a font is refused; warnings are fixes OTS made itself.
class FirstError : public ots::OTSContext {
 public:
  void Message(int level, const char *format, ...) override {
    if (level != 0 || !text.empty()) return;
    char buffer[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    text = buffer[0] ? buffer : "no reason given";
  }
  std::string text;
};

enum class Outcome { kSanitized, kRefused, kNoMemory };

PyObject *Sanitize(PyObject *, PyObject *font) {
  Py_buffer input;
  if (PyObject_GetBuffer(font, &input, PyBUF_SIMPLE) != 0) return nullptr;
  FirstError context;
  ots::ExpandingMemoryStream *output = nullptr;
  Outcome outcome = Outcome::kRefused;
  Py_BEGIN_ALLOW_THREADS
  try {
    output = new ots::ExpandingMemoryStream(static_cast<size_t>(input.len) + 4096, kMaxOutput);
    if (context.Process(output, static_cast<const uint8_t *>(input.buf), input.len)) {
      outcome = Outcome::kSanitized;
    }
  } catch (const std::bad_alloc &) {
    outcome = Outcome::kNoMemory;
  }
  Py_END_ALLOW_THREADS
  PyBuffer_Release(&input);
  PyObject *result = nullptr;
  if (outcome == Outcome::kSanitized) {
    result = PyBytes_FromStringAndSize(static_cast<const char *>(output->get()), output->Tell());
  } else if (outcome == Outcome::kNoMemory) {
    PyErr_SetString(PyExc_MemoryError, "OTS ran out of memory");
  } else {
    PyErr_SetString(PyExc_ValueError, context.text.empty() ? "no reason given" : context.text.c_str());
  }
  delete output;
  return result;
}

PyMethodDef kMethods[] = {
    {"sanitize", Sanitize, METH_O,
     "sanitize(font: bytes) -> bytes\n\nOTS's rewriting of an OpenType or TrueType font; "
     "ValueError with OTS's reason if it refuses it."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef kModule = {PyModuleDef_HEAD_INIT, "_ots", "The OpenType Sanitizer, in-process.", 0, kMethods};

}  // namespace

PyMODINIT_FUNC PyInit__ots() { return PyModule_Create(&kModule); }
