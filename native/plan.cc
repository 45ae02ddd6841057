// Parent side of the plan: validate the encoded buffer and resolve its offsets
// into pointers, before clone, where a bad plan can still throw.
#include "plan_storage.h"

#include <string.h>

#include <string>

namespace hutch {

namespace {

// Which fields an op requires: bits 0-3 strings s0..s3, 4-5 lists, 6 blob.
constexpr uint32_t S0 = 1, S1 = 2, S2 = 4, S3 = 8, L0 = 16, L1 = 32, BLOB = 64;

uint32_t Required(uint32_t op) {
  switch (op) {
    case kOpSetName:
    case kOpSetns:
    case kOpUmount:
    case kOpMkdir:
    case kOpMknod:
    case kOpChdir:
    case kOpChroot:
    case kOpSethostname:
    case kOpSetdomainname:
      return S0;
    case kOpMount:
      return S1;
    case kOpSymlink:
    case kOpPivotRoot:
      return S0 | S1;
    case kOpWriteFile:
      return S0 | BLOB;
    case kOpSeccomp:
      return BLOB;
    case kOpExec:
      return S0 | L0 | L1;
    default:
      return 0;
  }
}

uint32_t ReadU32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

int64_t ReadI64(const uint8_t* p) {
  int64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

class Resolver {
 public:
  Resolver(Napi::Env env, PlanStorage& storage) : env_(env), storage_(storage) {}

  [[noreturn]] void Fail(uint32_t step, const std::string& what) {
    throw Napi::TypeError::New(env_, "invalid plan: step " + std::to_string(step) + ": " + what);
  }

  // A string at data offset (stored plus one); nullptr when absent.
  const char* String(uint32_t step, uint32_t stored) {
    if (stored == 0) return nullptr;
    size_t at = stored - 1;
    const std::vector<char>& data = storage_.data;
    if (at >= data.size()) Fail(step, "string offset out of bounds");
    if (memchr(data.data() + at, 0, data.size() - at) == nullptr) Fail(step, "unterminated string");
    return data.data() + at;
  }

  // A list: u32 count, then count u32 string offsets (plus one).
  size_t List(uint32_t step, uint32_t stored) {
    if (stored == 0) return SIZE_MAX;
    size_t at = stored - 1;
    const std::vector<char>& data = storage_.data;
    if (at + 4 > data.size()) Fail(step, "list offset out of bounds");
    uint32_t count = ReadU32(reinterpret_cast<const uint8_t*>(data.data() + at));
    if (count > kPlanMaxList || at + 4 + 4ull * count > data.size()) Fail(step, "list too long");
    std::vector<char*> pointers;
    pointers.reserve(count + 1);
    for (uint32_t i = 0; i < count; i++) {
      uint32_t entry = ReadU32(reinterpret_cast<const uint8_t*>(data.data() + at + 4 + 4 * i));
      const char* s = String(step, entry);
      if (s == nullptr) Fail(step, "null entry in list");
      pointers.push_back(const_cast<char*>(s));
    }
    pointers.push_back(nullptr);
    storage_.lists.push_back(std::move(pointers));
    return storage_.lists.size() - 1;
  }

 private:
  Napi::Env env_;
  PlanStorage& storage_;
};

}  // namespace

std::unique_ptr<PlanStorage> ResolvePlan(Napi::Env env, const uint8_t* buffer, size_t length) {
  if (length < kPlanHeaderSize) throw Napi::TypeError::New(env, "invalid plan: too short");
  uint32_t magic = ReadU32(buffer);
  uint32_t version = ReadU32(buffer + 4);
  uint32_t count = ReadU32(buffer + 8);
  uint32_t data_size = ReadU32(buffer + 12);
  if (magic != kPlanMagic || version != kPlanVersion) {
    throw Napi::TypeError::New(env, "invalid plan: bad magic or version");
  }
  if (count == 0 || count > kPlanMaxSteps) {
    throw Napi::TypeError::New(env, "invalid plan: step count out of range");
  }
  size_t records_end = kPlanHeaderSize + static_cast<size_t>(count) * kPlanRecordSize;
  if (records_end + data_size != length) {
    throw Napi::TypeError::New(env, "invalid plan: sizes do not add up");
  }

  auto storage = std::make_unique<PlanStorage>();
  storage->data.assign(reinterpret_cast<const char*>(buffer + records_end),
                       reinterpret_cast<const char*>(buffer + length));
  storage->steps.resize(count);
  // Lists are resolved into vectors of pointers; reserve so that no vector
  // moves while we still hold indices to them.
  std::vector<std::pair<size_t, size_t>> list_index(count, {SIZE_MAX, SIZE_MAX});
  Resolver resolver(env, *storage);

  for (uint32_t i = 0; i < count; i++) {
    const uint8_t* r = buffer + kPlanHeaderSize + static_cast<size_t>(i) * kPlanRecordSize;
    ResolvedStep& step = storage->steps[i];
    step.op = ReadU32(r);
    step.flags = ReadU32(r + 4);
    if (step.op == 0 || step.op >= kOpMax)
      resolver.Fail(i, "unknown op " + std::to_string(step.op));
    for (int k = 0; k < 3; k++) step.num[k] = ReadI64(r + 8 + 8 * k);
    uint32_t required = Required(step.op);
    for (int k = 0; k < 4; k++) {
      step.str[k] = resolver.String(i, ReadU32(r + 32 + 4 * k));
      if ((required & (1u << k)) && step.str[k] == nullptr) {
        resolver.Fail(i, "string " + std::to_string(k) + " is required");
      }
    }
    for (int k = 0; k < 2; k++) {
      size_t index = resolver.List(i, ReadU32(r + 48 + 4 * k));
      if ((required & (L0 << k)) && index == SIZE_MAX) {
        resolver.Fail(i, "list " + std::to_string(k) + " is required");
      }
      (k == 0 ? list_index[i].first : list_index[i].second) = index;
    }
    uint32_t blob = ReadU32(r + 56);
    uint32_t blob_len = ReadU32(r + 60);
    if (blob == 0) {
      if (required & BLOB) resolver.Fail(i, "blob is required");
      step.blob = nullptr;
      step.blob_len = 0;
    } else {
      size_t at = blob - 1;
      if (at + blob_len > storage->data.size()) resolver.Fail(i, "blob out of bounds");
      step.blob = storage->data.data() + at;
      step.blob_len = blob_len;
    }
    if (step.op == kOpSetgroups && step.blob_len % 4 != 0) resolver.Fail(i, "gid list size");
    if (step.op == kOpSeccomp &&
        (step.blob_len == 0 || step.blob_len % 8 != 0 || step.blob_len / 8 > 4096)) {
      resolver.Fail(i, "seccomp program size");
    }
    if (step.op == kOpDup2 &&
        (step.num[0] < 0 || step.num[1] < 0 || step.num[1] >= kPlanMaxTargetFd)) {
      resolver.Fail(i, "dup2 fds out of range");
    }
  }
  // Only now are the list vectors final: point the steps at them.
  for (uint32_t i = 0; i < count; i++) {
    ResolvedStep& step = storage->steps[i];
    step.list[0] =
        list_index[i].first == SIZE_MAX ? nullptr : storage->lists[list_index[i].first].data();
    step.list[1] =
        list_index[i].second == SIZE_MAX ? nullptr : storage->lists[list_index[i].second].data();
  }
  return storage;
}

}  // namespace hutch
