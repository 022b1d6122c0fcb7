/* Compiled per-value update for shiftguard's stream detectors.
 *
 * A Python-level update() costs about 80 ns before any detector work (call, value check,
 * list append, tick test), a numba call about a microsecond; river's ADWIN and Page-Hinkley
 * update in 135-330 ns. This base type gives a detector an update() that is one C method
 * call: it checks the value, appends it to a buffer and, when the buffer holds the values
 * up to the detector's next possible alarm, hands them to the detector's own numba kernel
 * through a C function pointer (a numba cfunc), with no Python dispatch. The kernel is the
 * one update_many() runs, so both paths do the same arithmetic.
 *
 * Kernel signature (see shiftguard/stream/_base.py: KERNEL_SIGNATURE):
 *   int64 kernel(double *xs, int64 n, void *state0, void *state1, void *state2,
 *                double *params, int64 *alarms)
 * returning the number of alarms among xs. The buffer is handed over only at a point
 * where an alarm can fire (every value, or every `clock` values for ADWIN), so an alarm
 * can only be at the buffer's last value.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stdint.h>

typedef int64_t (*kernel_fn)(double *, int64_t, void *, void *, void *, double *, int64_t *);

#define N_VIEWS 4 /* state0, state1, state2, params */
/* a longer period (a huge ADWIN clock) is handed over in buffers of this size */
#define MAX_BUFFER 4096

/* the values a detector takes (shiftguard._validation.as_stream_values) */
enum { SUPPORT_REAL = 0, SUPPORT_UNIT = 1, SUPPORT_BINARY = 2 };

static int in_support(double v, int support) {
    switch (support) {
    case SUPPORT_REAL: return isfinite(v);
    case SUPPORT_UNIT: return v >= 0.0 && v <= 1.0;
    default: return v == 0.0 || v == 1.0;
    }
}

typedef struct {
    PyObject_HEAD
    kernel_fn kernel;
    Py_buffer views[N_VIEWS];
    int n_views;
    double *buffer;  /* values waiting for the next point where an alarm can fire */
    int64_t *alarms; /* the kernel's alarm positions (at most one per hand-over) */
    Py_ssize_t period;   /* values from one alarm point to the next (1, or ADWIN's clock) */
    Py_ssize_t capacity; /* buffer size: the period, at most MAX_BUFFER */
    Py_ssize_t n_pending, act_at; /* act_at: values from the buffer's start to the next
                                     alarm point */
    Py_ssize_t processed; /* values handed to the kernel since the Python side last looked */
    char drift_detected;
    int support_code; /* SUPPORT_REAL, SUPPORT_UNIT or SUPPORT_BINARY */
    PyObject *coerce; /* coerce(x, support) -> float, or raises */
    PyObject *support;
} NativeUpdate;

static void release_views(NativeUpdate *self) {
    for (int i = 0; i < self->n_views; i++) PyBuffer_Release(&self->views[i]);
    self->n_views = 0;
    self->kernel = NULL;
}

static void NativeUpdate_dealloc(NativeUpdate *self) {
    release_views(self);
    PyMem_Free(self->buffer);
    PyMem_Free(self->alarms);
    Py_XDECREF(self->coerce);
    Py_XDECREF(self->support);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* _bind(kernel_address, state0, state1, state2, params, period, act_at, support_code,
 *       coerce, support): point update() at a kernel and at the arrays it advances.
 * Pending values and the count of processed ones are dropped: the caller has accounted
 * for them (see _take_pending and _processed). */
static PyObject *NativeUpdate_bind(NativeUpdate *self, PyObject *args) {
    unsigned long long address;
    PyObject *objs[N_VIEWS], *coerce, *support;
    Py_ssize_t period, act_at;
    int support_code;
    if (!PyArg_ParseTuple(args, "KOOOOnniOO", &address, &objs[0], &objs[1], &objs[2],
                          &objs[3], &period, &act_at, &support_code, &coerce, &support))
        return NULL;
    if (address == 0 || period < 1 || act_at < 1 || act_at > period || support_code < 0 ||
        support_code > SUPPORT_BINARY) {
        PyErr_SetString(PyExc_ValueError, "invalid kernel binding");
        return NULL;
    }
    release_views(self);
    for (int i = 0; i < N_VIEWS; i++) {
        if (PyObject_GetBuffer(objs[i], &self->views[i], PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS)) {
            release_views(self);
            return NULL;
        }
        self->n_views = i + 1;
    }
    Py_ssize_t capacity = period < MAX_BUFFER ? period : MAX_BUFFER;
    if (capacity != self->capacity) {
        double *buffer = PyMem_Realloc(self->buffer, (size_t)capacity * sizeof(double));
        if (buffer == NULL) { release_views(self); return PyErr_NoMemory(); }
        self->buffer = buffer;
        int64_t *alarms = PyMem_Realloc(self->alarms, (size_t)capacity * sizeof(int64_t));
        if (alarms == NULL) { release_views(self); return PyErr_NoMemory(); }
        self->alarms = alarms;
        self->capacity = capacity;
    }
    self->kernel = (kernel_fn)(uintptr_t)address;
    self->n_pending = 0;
    self->processed = 0;
    self->period = period;
    self->act_at = act_at;
    self->support_code = support_code;
    Py_INCREF(coerce);
    Py_XSETREF(self->coerce, coerce);
    Py_INCREF(support);
    Py_XSETREF(self->support, support);
    Py_RETURN_NONE;
}

/* _take_pending() -> bytes: the waiting values (float64, oldest first); empties the buffer.
 * The caller applies them with the kernel (they stop short of an alarm point). */
static PyObject *NativeUpdate_take_pending(NativeUpdate *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *out = PyBytes_FromStringAndSize((const char *)self->buffer,
                                              self->n_pending * (Py_ssize_t)sizeof(double));
    if (out != NULL) self->n_pending = 0;
    return out;
}

/* Run the kernel on the buffered values; returns the number of alarms (at most one, at the
 * last value, and none unless that value is an alarm point). The next alarm point moves
 * closer by the values handed over. */
static int64_t hand_over(NativeUpdate *self) {
    Py_ssize_t n = self->n_pending;
    int64_t n_alarms = self->kernel(self->buffer, (int64_t)n, self->views[0].buf,
                                    self->views[1].buf, self->views[2].buf,
                                    (double *)self->views[3].buf, self->alarms);
    self->processed += n;
    self->n_pending = 0;
    self->act_at -= n;
    return n_alarms;
}

static PyObject *NativeUpdate_update(NativeUpdate *self, PyObject *x) {
    double value;
    if (self->kernel == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "detector not initialised (call reset())");
        return NULL;
    }
    /* the common cases inline: a float or a bool (e.g. y_pred != y_true) in the support;
       anything else, and every value out of the support, through coerce(), which
       converts ints and NumPy scalars and raises InputError */
    if (PyFloat_CheckExact(x) && in_support(PyFloat_AS_DOUBLE(x), self->support_code)) {
        value = PyFloat_AS_DOUBLE(x);
    } else if (x == Py_True || x == Py_False) {
        value = x == Py_True ? 1.0 : 0.0;
    } else {
        PyObject *checked = PyObject_CallFunctionObjArgs(self->coerce, x, self->support, NULL);
        if (checked == NULL) return NULL;
        value = PyFloat_AsDouble(checked);
        Py_DECREF(checked);
        if (value == -1.0 && PyErr_Occurred()) return NULL;
    }
    self->buffer[self->n_pending++] = value;
    if (self->n_pending == self->act_at) {
        if (self->drift_detected) {
            /* the first value after an alarm: the flag goes down; the alarm restarted
               the detector, so its next alarm point may be further away */
            self->drift_detected = 0;
            if (self->n_pending < self->period) {
                self->act_at = self->period;
                Py_INCREF(self);
                return (PyObject *)self;
            }
        }
        self->drift_detected = hand_over(self) > 0;
        self->act_at = self->drift_detected ? 1 : self->period;
    } else if (self->n_pending == self->capacity) {
        hand_over(self); /* a full buffer short of an alarm point: it cannot alarm */
    }
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyMethodDef NativeUpdate_methods[] = {
    {"update", (PyCFunction)NativeUpdate_update, METH_O,
     "Feed one value; afterwards ``drift_detected`` tells whether it raised an alarm."},
    {"_bind", (PyCFunction)NativeUpdate_bind, METH_VARARGS, NULL},
    {"_take_pending", (PyCFunction)NativeUpdate_take_pending, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef NativeUpdate_members[] = {
    {"drift_detected", T_BOOL, offsetof(NativeUpdate, drift_detected), 0,
     "Whether the last value fed raised an alarm."},
    {"_processed", T_PYSSIZET, offsetof(NativeUpdate, processed), 0, NULL},
    {"_n_pending", T_PYSSIZET, offsetof(NativeUpdate, n_pending), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject NativeUpdateType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shiftguard.stream._native.NativeUpdate",
    .tp_doc = PyDoc_STR("Compiled per-value update over a detector's numba kernel."),
    .tp_basicsize = sizeof(NativeUpdate),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)NativeUpdate_dealloc,
    .tp_methods = NativeUpdate_methods,
    .tp_members = NativeUpdate_members,
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "_native", "Compiled per-value update of stream detectors.", -1,
    NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (PyType_Ready(&NativeUpdateType) < 0) return NULL;
    PyObject *module = PyModule_Create(&native_module);
    if (module == NULL) return NULL;
    Py_INCREF(&NativeUpdateType);
    if (PyModule_AddObject(module, "NativeUpdate", (PyObject *)&NativeUpdateType) < 0) {
        Py_DECREF(&NativeUpdateType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
