// soc-ts native core: a thin N-API layer over libtorch.
//
// Everything a user touches is designed in TypeScript (src/tensor). This file only
//   * holds at::Tensor / at::Generator handles in N-API externals (freed by an explicit
//     dispose or, as a fallback, by the garbage collector's finalizer),
//   * calls any ATen operator by its schema name through the c10 dispatcher (so every op
//     shares one code path and autograd is recorded exactly as in PyTorch),
//   * moves bytes between JS buffers, files and tensors,
//   * exposes the autograd engine, grad mode, RNG and thread settings.

#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

#if __has_include(<torch/version.h>)
#include <torch/version.h>
#define SOC_TORCH_VERSION TORCH_VERSION
#elif __has_include(<torch/csrc/api/include/torch/version.h>)
#include <torch/csrc/api/include/torch/version.h>
#define SOC_TORCH_VERSION TORCH_VERSION
#else
#define SOC_TORCH_VERSION "unknown"
#endif

namespace {

// ---------------------------------------------------------------------------------------
// Handles

// Type tags let us refuse externals that are not ours (N-API 8 type tagging).
const napi_type_tag kTensorTag = {0x50c7a11e0b5ed1a5ULL, 0x7e450a0d1b1e0001ULL};
const napi_type_tag kGeneratorTag = {0x50c7a11e0b5ed1a5ULL, 0x7e450a0d1b1e0002ULL};

struct TensorBox {
  at::Tensor tensor;
  int64_t accounted = 0;  // bytes reported to V8 via napi_adjust_external_memory
};

struct GeneratorBox {
  at::Generator gen;
};

int64_t accountedBytes(const at::Tensor& t) {
  if (!t.defined()) return 0;
  // The logical size of this handle (views of a large storage do not count it whole).
  int64_t logical = t.numel() * static_cast<int64_t>(t.element_size());
  int64_t storage = t.has_storage() ? static_cast<int64_t>(t.storage().nbytes()) : logical;
  return std::min(logical, storage);
}

void releaseBox(node_api_basic_env env, TensorBox* box) {
  if (box->accounted != 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, -box->accounted, &ignored);
    box->accounted = 0;
  }
  box->tensor = at::Tensor();
}

Napi::Value wrapTensor(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  auto* box = new TensorBox();
  box->tensor = std::move(t);
  box->accounted = accountedBytes(box->tensor);
  if (box->accounted != 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, box->accounted, &ignored);
  }
  // A "basic" finalizer (it never calls into JS) runs during garbage collection itself rather
  // than on a later event-loop turn, so tensors dropped inside a long synchronous loop are
  // reclaimed while the loop runs.
  napi_value ext;
  napi_status st = napi_create_external(
      env, box,
      [](node_api_basic_env benv, void* data, void*) {
        auto* b = static_cast<TensorBox*>(data);
        releaseBox(benv, b);
        delete b;
      },
      nullptr, &ext);
  if (st != napi_ok) {
    releaseBox(env, box);
    delete box;
    throw Napi::Error::New(env, "cannot create a tensor handle");
  }
  napi_type_tag_object(env, ext, &kTensorTag);
  return Napi::Value(env, ext);
}

bool isTensorHandle(Napi::Env env, const Napi::Value& v) {
  if (!v.IsExternal()) return false;
  bool ok = false;
  napi_check_object_type_tag(env, v, &kTensorTag, &ok);
  return ok;
}

TensorBox* tensorBox(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!isTensorHandle(env, v)) {
    throw Napi::TypeError::New(env, std::string(what) + ": expected a tensor handle");
  }
  return v.As<Napi::External<TensorBox>>().Data();
}

const at::Tensor& tensorArg(Napi::Env env, const Napi::Value& v, const char* what) {
  TensorBox* box = tensorBox(env, v, what);
  if (!box->tensor.defined()) {
    throw Napi::Error::New(env, std::string(what) + ": tensor was already disposed");
  }
  return box->tensor;
}

Napi::Value wrapGenerator(Napi::Env env, at::Generator g) {
  auto* box = new GeneratorBox{std::move(g)};
  auto ext = Napi::External<GeneratorBox>::New(env, box, [](Napi::Env, GeneratorBox* b) { delete b; });
  napi_type_tag_object(env, ext, &kGeneratorTag);
  return ext;
}

at::Generator& generatorArg(Napi::Env env, const Napi::Value& v) {
  bool ok = false;
  if (v.IsExternal()) napi_check_object_type_tag(env, v, &kGeneratorTag, &ok);
  if (!ok) throw Napi::TypeError::New(env, "expected a generator handle");
  return v.As<Napi::External<GeneratorBox>>().Data()->gen;
}

// Runs `body`, turning libtorch and C++ exceptions into JS exceptions.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F body) {
  Napi::Env env = info.Env();
  try {
    return body(env);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// ---------------------------------------------------------------------------------------
// Dispatcher calls

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;
};

std::vector<OpEntry>& opTable() {
  static std::vector<OpEntry> table;
  return table;
}

// (name, overload) -> integer id, resolved once per op by the TS layer.
Napi::Value OpHandle(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    std::string name = info[0].As<Napi::String>();
    std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    if (name.find("::") == std::string::npos) name = "aten::" + name;
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!handle.has_value()) {
      throw Napi::Error::New(env, "unknown operator " + name + (overload.empty() ? "" : "." + overload) +
                                      " in this libtorch (" SOC_TORCH_VERSION ")");
    }
    opTable().push_back({*handle, name + (overload.empty() ? "" : "." + overload)});
    return Napi::Number::New(env, static_cast<double>(opTable().size() - 1));
  });
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    std::ostringstream os;
    os << opTable().at(id).handle.schema();
    return Napi::String::New(env, os.str());
  });
}

int64_t toInt64(Napi::Env env, const Napi::Value& v, const std::string& where) {
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d))) {
      throw Napi::TypeError::New(env, where + ": expected an integer, got " + std::to_string(d));
    }
    return static_cast<int64_t>(d);
  }
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  throw Napi::TypeError::New(env, where + ": expected an integer");
}

c10::IValue toIValue(Napi::Env env, const Napi::Value& v, const c10::TypePtr& type, const std::string& where);

c10::IValue toListIValue(Napi::Env env, const Napi::Value& v, const c10::TypePtr& elem, const std::string& where) {
  if (!v.IsArray()) {
    // A single number broadcasts to an int[N] list, as in PyTorch (e.g. stride=2).
    if (v.IsNumber() && (elem->kind() == c10::TypeKind::IntType || elem->kind() == c10::TypeKind::SymIntType)) {
      return c10::IValue(std::vector<int64_t>{toInt64(env, v, where)});
    }
    throw Napi::TypeError::New(env, where + ": expected an array");
  }
  auto arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  switch (elem->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      c10::List<int64_t> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(toInt64(env, arr.Get(i), where));
      return c10::IValue(out);
    }
    case c10::TypeKind::FloatType: {
      c10::List<double> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(arr.Get(i).As<Napi::Number>().DoubleValue());
      return c10::IValue(out);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(arr.Get(i).ToBoolean().Value());
      return c10::IValue(out);
    }
    case c10::TypeKind::TensorType: {
      c10::List<at::Tensor> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(tensorArg(env, arr.Get(i), where.c_str()));
      return c10::IValue(out);
    }
    case c10::TypeKind::OptionalType: {
      auto inner = elem->castRaw<c10::OptionalType>()->getElementType();
      if (inner->kind() == c10::TypeKind::TensorType) {
        c10::List<c10::optional<at::Tensor>> out;
        out.reserve(n);
        for (uint32_t i = 0; i < n; ++i) {
          Napi::Value e = arr.Get(i);
          if (e.IsNull() || e.IsUndefined()) {
            out.push_back(c10::nullopt);
          } else {
            out.push_back(tensorArg(env, e, where.c_str()));
          }
        }
        return c10::IValue(out);
      }
      break;
    }
    default:
      break;
  }
  throw Napi::TypeError::New(env, where + ": unsupported list element type " + elem->str());
}

c10::IValue toIValue(Napi::Env env, const Napi::Value& v, const c10::TypePtr& type, const std::string& where) {
  switch (type->kind()) {
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return toIValue(env, v, type->castRaw<c10::OptionalType>()->getElementType(), where);
    case c10::TypeKind::TensorType:
      return c10::IValue(tensorArg(env, v, where.c_str()));
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType:
      return c10::IValue(toInt64(env, v, where));
    case c10::TypeKind::FloatType:
      return c10::IValue(v.ToNumber().DoubleValue());
    case c10::TypeKind::BoolType:
      return c10::IValue(v.ToBoolean().Value());
    case c10::TypeKind::NumberType: {
      // Scalar: integral JS numbers become integer scalars, like Python ints.
      if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
      if (v.IsBigInt()) return c10::IValue(toInt64(env, v, where));
      if (v.IsObject() && !v.IsExternal() && v.As<Napi::Object>().Has("float")) {
        return c10::IValue(v.As<Napi::Object>().Get("float").ToNumber().DoubleValue());
      }
      double d = v.ToNumber().DoubleValue();
      if (std::isfinite(d) && d == static_cast<double>(static_cast<int64_t>(d)) && std::fabs(d) < 9.007199254740992e15) {
        return c10::IValue(static_cast<int64_t>(d));
      }
      return c10::IValue(d);
    }
    case c10::TypeKind::StringType:
      return c10::IValue(v.ToString().Utf8Value());
    case c10::TypeKind::DeviceObjType:
      return c10::IValue(c10::Device(v.ToString().Utf8Value()));
    case c10::TypeKind::GeneratorType:
      return c10::IValue(generatorArg(env, v));
    case c10::TypeKind::ListType:
      return toListIValue(env, v, type->castRaw<c10::ListType>()->getElementType(), where);
    default:
      throw Napi::TypeError::New(env, where + ": unsupported argument type " + type->str());
  }
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return wrapTensor(env, v.toTensor());
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) arr.Set(i, wrapTensor(env, list.get(i)));
    return arr;
  }
  if (v.isIntList()) {
    auto list = v.toIntList();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) arr.Set(i, Napi::Number::New(env, static_cast<double>(list.get(i))));
    return arr;
  }
  if (v.isDoubleList()) {
    auto list = v.toDoubleList();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) arr.Set(i, Napi::Number::New(env, list.get(i)));
    return arr;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    auto arr = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) arr.Set(i, fromIValue(env, elems[i]));
    return arr;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) arr.Set(i, fromIValue(env, list[i]));
    return arr;
  }
  throw Napi::TypeError::New(env, "unsupported return type " + v.tagKind());
}

// call(opId, args[]): positional arguments in schema order; undefined (or a short array)
// takes the schema default. Returns a single value, or an array for multiple returns.
Napi::Value Call(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    auto& entry = opTable().at(id);
    const auto& schema = entry.handle.schema();
    const auto& params = schema.arguments();
    auto args = info[1].As<Napi::Array>();
    uint32_t given = args.Length();
    if (given > params.size()) {
      throw Napi::TypeError::New(env, entry.name + ": too many arguments (" + std::to_string(given) + " > " +
                                          std::to_string(params.size()) + ")");
    }
    torch::jit::Stack stack;
    stack.reserve(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& p = params[i];
      Napi::Value v = i < given ? args.Get(i) : env.Undefined();
      if (v.IsUndefined()) {
        if (p.default_value().has_value()) {
          stack.push_back(*p.default_value());
          continue;
        }
        if (p.type()->kind() == c10::TypeKind::OptionalType) {
          stack.emplace_back();
          continue;
        }
        throw Napi::TypeError::New(env, entry.name + ": missing argument '" + p.name() + "'");
      }
      stack.push_back(toIValue(env, v, p.type(), entry.name + " argument '" + p.name() + "'"));
    }
    entry.handle.callBoxed(&stack);
    if (stack.size() == 1) return fromIValue(env, stack[0]);
    if (stack.empty()) return env.Undefined();
    auto arr = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); ++i) arr.Set(i, fromIValue(env, stack[i]));
    return arr;
  });
}

// ---------------------------------------------------------------------------------------
// Tensor metadata and lifetime

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorBox* box = tensorBox(env, info[0], "dispose");
  releaseBox(env, box);
  return env.Undefined();
}

Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, !tensorBox(env, info[0], "isDisposed")->tensor.defined());
}

Napi::Value IsTensorHandle(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), isTensorHandle(info.Env(), info[0]));
}

Napi::Array intArray(Napi::Env env, c10::IntArrayRef values) {
  auto arr = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) arr.Set(i, Napi::Number::New(env, static_cast<double>(values[i])));
  return arr;
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value { return intArray(env, tensorArg(env, info[0], "shape").sizes()); });
}

Napi::Value Strides(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value { return intArray(env, tensorArg(env, info[0], "strides").strides()); });
}

// [dtype code, dim, numel, storage offset, requires_grad, is_leaf, device string, is_contiguous]
Napi::Value Meta(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const at::Tensor& t = tensorArg(env, info[0], "meta");
    auto arr = Napi::Array::New(env, 8);
    arr.Set(0u, Napi::Number::New(env, static_cast<int>(t.scalar_type())));
    arr.Set(1u, Napi::Number::New(env, static_cast<double>(t.dim())));
    arr.Set(2u, Napi::Number::New(env, static_cast<double>(t.numel())));
    arr.Set(3u, Napi::Number::New(env, static_cast<double>(t.storage_offset())));
    arr.Set(4u, Napi::Boolean::New(env, t.requires_grad()));
    arr.Set(5u, Napi::Boolean::New(env, t.is_leaf()));
    arr.Set(6u, Napi::String::New(env, t.device().str()));
    arr.Set(7u, Napi::Boolean::New(env, t.is_contiguous()));
    return arr;
  });
}

Napi::Value Dtype(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return Napi::Number::New(env, static_cast<int>(tensorArg(env, info[0], "dtype").scalar_type()));
  });
}

// Address of the first byte of the tensor's storage, to tell which tensors share memory.
Napi::Value StorageAddress(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const at::Tensor& t = tensorArg(env, info[0], "storageAddress");
    if (!t.has_storage()) return Napi::Number::New(env, 0);
    auto addr = reinterpret_cast<uintptr_t>(t.storage().data());
    return Napi::BigInt::New(env, static_cast<uint64_t>(addr));
  });
}

Napi::Value StorageBytes(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const at::Tensor& t = tensorArg(env, info[0], "storageBytes");
    return Napi::Number::New(env, t.has_storage() ? static_cast<double>(t.storage().nbytes()) : 0.0);
  });
}

// ---------------------------------------------------------------------------------------
// Bytes in and out

c10::ScalarType scalarTypeArg(Napi::Env env, const Napi::Value& v) {
  int code = v.As<Napi::Number>().Int32Value();
  if (code < 0 || code >= static_cast<int>(c10::ScalarType::NumOptions)) {
    throw Napi::TypeError::New(env, "invalid dtype code " + std::to_string(code));
  }
  return static_cast<c10::ScalarType>(code);
}

std::vector<int64_t> shapeArg(Napi::Env env, const Napi::Value& v) {
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) out[i] = toInt64(env, arr.Get(i), "shape");
  return out;
}

struct ByteView {
  uint8_t* data;
  size_t size;
};

ByteView bytesArg(Napi::Env env, const Napi::Value& v) {
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    auto ab = ta.ArrayBuffer();
    return {static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset(), ta.ByteLength()};
  }
  if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    return {static_cast<uint8_t*>(ab.Data()), ab.ByteLength()};
  }
  if (v.IsDataView()) {
    auto dv = v.As<Napi::DataView>();
    return {static_cast<uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset(), dv.ByteLength()};
  }
  throw Napi::TypeError::New(env, "expected a TypedArray, DataView or ArrayBuffer");
}

// fromBytes(bytes, dtype, shape): a new contiguous CPU tensor holding a copy of the bytes.
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    ByteView bytes = bytesArg(env, info[0]);
    auto dtype = scalarTypeArg(env, info[1]);
    auto shape = shapeArg(env, info[2]);
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t need = t.numel() * t.element_size();
    if (bytes.size != need) {
      throw Napi::RangeError::New(env, "fromBytes: got " + std::to_string(bytes.size) + " bytes, shape needs " +
                                           std::to_string(need));
    }
    if (need) std::memcpy(t.data_ptr(), bytes.data, need);
    return wrapTensor(env, t);
  });
}

// toBytes(tensor): a new ArrayBuffer with the tensor's values in row-major order.
Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    at::Tensor t = tensorArg(env, info[0], "toBytes").detach().to(at::kCPU).contiguous();
    size_t n = t.numel() * t.element_size();
    auto ab = Napi::ArrayBuffer::New(env, n);
    if (n) std::memcpy(ab.Data(), t.data_ptr(), n);
    return ab;
  });
}

// copyIntoBytes(tensor, bytes): fills a caller-owned buffer (no intermediate ArrayBuffer).
Napi::Value CopyIntoBytes(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    at::Tensor t = tensorArg(env, info[0], "copyIntoBytes").detach().to(at::kCPU).contiguous();
    ByteView out = bytesArg(env, info[1]);
    size_t n = t.numel() * t.element_size();
    if (out.size != n) throw Napi::RangeError::New(env, "copyIntoBytes: buffer size does not match tensor");
    if (n) std::memcpy(out.data, t.data_ptr(), n);
    return env.Undefined();
  });
}

// readFile(path, offset, dtype, shape): a tensor read straight from a file region, so large
// checkpoints are never held twice in memory.
Napi::Value ReadFile(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    std::string path = info[0].As<Napi::String>();
    int64_t offset = toInt64(env, info[1], "offset");
    auto dtype = scalarTypeArg(env, info[2]);
    auto shape = shapeArg(env, info[3]);
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t need = t.numel() * t.element_size();
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw Napi::Error::New(env, "cannot open " + path + ": " + std::strerror(errno));
    size_t done = 0;
    auto* dst = static_cast<uint8_t*>(t.data_ptr());
    while (done < need) {
      ssize_t r = ::pread(fd, dst + done, need - done, offset + static_cast<int64_t>(done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        ::close(fd);
        throw Napi::Error::New(env, path + ": file ends at byte " + std::to_string(offset + done) + ", expected " +
                                        std::to_string(need) + " bytes of tensor data from offset " +
                                        std::to_string(offset) + " (truncated file?)");
      }
      done += static_cast<size_t>(r);
    }
    ::close(fd);
    return wrapTensor(env, t);
  });
}

// writeFd(tensor, fd): appends the tensor's bytes to an open file descriptor.
Napi::Value WriteFd(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    at::Tensor t = tensorArg(env, info[0], "writeFd").detach().to(at::kCPU).contiguous();
    int fd = info[1].As<Napi::Number>().Int32Value();
    size_t n = t.numel() * t.element_size();
    const auto* src = static_cast<const uint8_t*>(n ? t.data_ptr() : nullptr);
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::write(fd, src + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw Napi::Error::New(env, std::string("write failed: ") + std::strerror(errno));
      done += static_cast<size_t>(w);
    }
    return Napi::Number::New(env, static_cast<double>(n));
  });
}

// crc32(tensor, seed): zip checksum of the tensor's bytes, to write PyTorch archives without
// copying every storage into JS.
Napi::Value Crc32(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    static uint32_t table[256];
    static std::once_flag once;
    std::call_once(once, [] {
      for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
      }
    });
    at::Tensor t = tensorArg(env, info[0], "crc32").detach().to(at::kCPU).contiguous();
    uint32_t crc = ~info[1].As<Napi::Number>().Uint32Value();
    size_t n = t.numel() * t.element_size();
    const auto* p = static_cast<const uint8_t*>(n ? t.data_ptr() : nullptr);
    for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return Napi::Number::New(env, static_cast<double>(~crc));
  });
}

// ---------------------------------------------------------------------------------------
// Autograd

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    TensorBox* box = tensorBox(env, info[0], "setRequiresGrad");
    box->tensor.set_requires_grad(info[1].ToBoolean().Value());
    return env.Undefined();
  });
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value { return wrapTensor(env, tensorArg(env, info[0], "grad").grad()); });
}

Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const at::Tensor& t = tensorArg(env, info[0], "setGrad");
    if (info[1].IsNull() || info[1].IsUndefined()) {
      t.mutable_grad() = at::Tensor();
    } else {
      t.mutable_grad() = tensorArg(env, info[1], "setGrad");
    }
    return env.Undefined();
  });
}

Napi::Value GradFnName(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const at::Tensor& t = tensorArg(env, info[0], "gradFn");
    auto fn = t.grad_fn();
    if (!fn) return env.Null();
    return Napi::String::New(env, fn->name());
  });
}

std::vector<at::Tensor> tensorList(Napi::Env env, const Napi::Value& v, const char* what, bool allowNull) {
  std::vector<at::Tensor> out;
  if (v.IsNull() || v.IsUndefined()) return out;
  auto arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (allowNull && (e.IsNull() || e.IsUndefined())) {
      out.emplace_back();
    } else {
      out.push_back(tensorArg(env, e, what));
    }
  }
  return out;
}

// backward(tensors, gradTensors|null, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    auto tensors = tensorList(env, info[0], "backward", false);
    auto grads = tensorList(env, info[1], "backward", true);
    c10::optional<bool> retain;
    if (info[2].IsBoolean()) retain = info[2].As<Napi::Boolean>().Value();
    bool create = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
    torch::autograd::backward(tensors, grads, retain, create);
    return env.Undefined();
  });
}

// grad(outputs, inputs, gradOutputs|null, retainGraph, createGraph, allowUnused) -> tensors (null where unused)
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    auto outputs = tensorList(env, info[0], "grad", false);
    auto inputs = tensorList(env, info[1], "grad", false);
    auto gradOutputs = tensorList(env, info[2], "grad", true);
    c10::optional<bool> retain;
    if (info[3].IsBoolean()) retain = info[3].As<Napi::Boolean>().Value();
    bool create = info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
    bool allowUnused = info[5].IsBoolean() && info[5].As<Napi::Boolean>().Value();
    auto result = torch::autograd::grad(outputs, inputs, gradOutputs, retain, create, allowUnused);
    auto arr = Napi::Array::New(env, result.size());
    for (size_t i = 0; i < result.size(); ++i) arr.Set(i, wrapTensor(env, result[i]));
    return arr;
  });
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool previous = at::GradMode::is_enabled();
  at::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), previous);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

// ---------------------------------------------------------------------------------------
// RNG, threads, build info

Napi::Value DefaultGenerator(const Napi::CallbackInfo& info) {
  return wrapGenerator(info.Env(), at::detail::getDefaultCPUGenerator());
}

Napi::Value NewGenerator(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    uint64_t seed = info.Length() > 0 && !info[0].IsUndefined()
                        ? static_cast<uint64_t>(toInt64(env, info[0], "seed"))
                        : c10::detail::getNonDeterministicRandom();
    return wrapGenerator(env, at::make_generator<at::CPUGeneratorImpl>(seed));
  });
}

Napi::Value GeneratorSeed(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    at::Generator& g = generatorArg(env, info[0]);
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_current_seed(static_cast<uint64_t>(toInt64(env, info[1], "seed")));
    return env.Undefined();
  });
}

Napi::Value GeneratorGetState(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    at::Generator& g = generatorArg(env, info[0]);
    std::lock_guard<std::mutex> lock(g.mutex());
    return wrapTensor(env, g.get_state());
  });
}

Napi::Value GeneratorSetState(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    at::Generator& g = generatorArg(env, info[0]);
    const at::Tensor& state = tensorArg(env, info[1], "generatorSetState");
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_state(state);
    return env.Undefined();
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
    return env.Undefined();
  });
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), SOC_TORCH_VERSION);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto fn = [&](const char* name, Napi::Function::Callback cb) { exports.Set(name, Napi::Function::New(env, cb, name)); };
  fn("opHandle", OpHandle);
  fn("opSchema", OpSchema);
  fn("call", Call);
  fn("dispose", Dispose);
  fn("isDisposed", IsDisposed);
  fn("isTensorHandle", IsTensorHandle);
  fn("shape", Shape);
  fn("strides", Strides);
  fn("meta", Meta);
  fn("dtype", Dtype);
  fn("storageAddress", StorageAddress);
  fn("storageBytes", StorageBytes);
  fn("fromBytes", FromBytes);
  fn("toBytes", ToBytes);
  fn("copyIntoBytes", CopyIntoBytes);
  fn("readFile", ReadFile);
  fn("writeFd", WriteFd);
  fn("crc32", Crc32);
  fn("setRequiresGrad", SetRequiresGrad);
  fn("grad", Grad);
  fn("setGrad", SetGrad);
  fn("gradFnName", GradFnName);
  fn("backward", Backward);
  fn("autogradGrad", AutogradGrad);
  fn("setGradEnabled", SetGradEnabled);
  fn("isGradEnabled", IsGradEnabled);
  fn("defaultGenerator", DefaultGenerator);
  fn("newGenerator", NewGenerator);
  fn("generatorSeed", GeneratorSeed);
  fn("generatorGetState", GeneratorGetState);
  fn("generatorSetState", GeneratorSetState);
  fn("setNumThreads", SetNumThreads);
  fn("getNumThreads", GetNumThreads);
  fn("version", Version);
  return exports;
}

}  // namespace

NODE_API_MODULE(soc_torch, Init)
