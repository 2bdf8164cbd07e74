/* Type 1 decryption (Adobe Type 1 Font Format, 7.2): eexec and charstring encryption.
 * The cipher feeds every byte into the next key, so it is a byte loop; in C it costs ~1 ns a
 * byte, a hundredth of Python's. Pure arithmetic over the input's length: nothing else. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *decrypt(PyObject *self, PyObject *args) {
  Py_buffer input;
  unsigned int key;
  if (!PyArg_ParseTuple(args, "y*I:decrypt", &input, &key)) return NULL;
  PyObject *result = PyBytes_FromStringAndSize(NULL, input.len);
  if (result != NULL) {
    const unsigned char *cipher = input.buf;
    unsigned char *plain = (unsigned char *)PyBytes_AS_STRING(result);
    unsigned int r = key & 0xFFFF;
    for (Py_ssize_t i = 0; i < input.len; i++) {
      plain[i] = cipher[i] ^ (r >> 8);
      r = ((cipher[i] + r) * 52845u + 22719u) & 0xFFFF;
    }
  }
  PyBuffer_Release(&input);
  return result;
}

static PyMethodDef methods[] = {
    {"decrypt", decrypt, METH_VARARGS,
     "decrypt(data: bytes, key: int) -> bytes\n\nType 1 decryption of data with the initial key "
     "(55665 for eexec, 4330 for charstrings)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_eexec", "Type 1 decryption.", 0, methods};

PyMODINIT_FUNC PyInit__eexec(void) { return PyModule_Create(&module); }
