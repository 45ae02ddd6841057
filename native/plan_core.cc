// Parent side of the plan: validate the encoded buffer and resolve its offsets
// into pointers, before clone, where a bad plan can still be refused. No N-API
// here: the addon turns a refusal into a TypeError, hutch-monitor into exit 125.
#include "plan_core.h"

#include <string.h>

namespace hutch {

namespace {

// Which fields an op requires: bits 0-3 strings s0..s3, 4-5 lists, 6 blob.
constexpr uint32_t S0 = 1, S1 = 2, S2 = 4, S3 = 8, L0 = 16, L1 = 32, BLOB = 64;

uint32_t Required(uint32_t op) {
  switch (op) {
    case kOpSetns:
    case kOpUmount:
    case kOpMkdir:
    case kOpMknod:
    case kOpChdir:
    case kOpSethostname:
    case kOpLinkUp:
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

// Resolves the fields of one step at a time; the first failure is kept in
// error_ and every later call is refused.
class Resolver {
 public:
  Resolver(PlanStorage& storage, std::string& error) : storage_(storage), error_(error) {}

  bool Fail(uint32_t step, const std::string& what) {
    error_ = "invalid plan: step " + std::to_string(step) + ": " + what;
    return false;
  }

  // A string at data offset (stored plus one); *out is nullptr when absent.
  bool String(uint32_t step, uint32_t stored, const char** out) {
    *out = nullptr;
    if (stored == 0) return true;
    size_t at = stored - 1;
    const std::vector<char>& data = storage_.data;
    if (at >= data.size()) return Fail(step, "string offset out of bounds");
    if (memchr(data.data() + at, 0, data.size() - at) == nullptr) {
      return Fail(step, "unterminated string");
    }
    *out = data.data() + at;
    return true;
  }

  // A list: u32 count, then count u32 string offsets (plus one). *index is the
  // list's place in storage.lists, SIZE_MAX when absent.
  bool List(uint32_t step, uint32_t stored, size_t* index) {
    *index = SIZE_MAX;
    if (stored == 0) return true;
    size_t at = stored - 1;
    const std::vector<char>& data = storage_.data;
    if (at + 4 > data.size()) return Fail(step, "list offset out of bounds");
    uint32_t count = ReadU32(reinterpret_cast<const uint8_t*>(data.data() + at));
    if (count > kPlanMaxList || at + 4 + 4ull * count > data.size()) {
      return Fail(step, "list too long");
    }
    std::vector<char*> pointers;
    pointers.reserve(count + 1);
    for (uint32_t i = 0; i < count; i++) {
      uint32_t entry = ReadU32(reinterpret_cast<const uint8_t*>(data.data() + at + 4 + 4 * i));
      const char* s;
      if (!String(step, entry, &s)) return false;
      if (s == nullptr) return Fail(step, "null entry in list");
      pointers.push_back(const_cast<char*>(s));
    }
    pointers.push_back(nullptr);
    storage_.lists.push_back(std::move(pointers));
    *index = storage_.lists.size() - 1;
    return true;
  }

 private:
  PlanStorage& storage_;
  std::string& error_;
};

bool ResolveStep(Resolver& resolver, PlanStorage& storage, const uint8_t* r, uint32_t i,
                 std::pair<size_t, size_t>* lists) {
  ResolvedStep& step = storage.steps[i];
  step.op = ReadU32(r);
  step.flags = ReadU32(r + 4);
  if (step.op == 0 || step.op >= kOpMax) {
    return resolver.Fail(i, "unknown op " + std::to_string(step.op));
  }
  for (int k = 0; k < 3; k++) step.num[k] = ReadI64(r + 8 + 8 * k);
  uint32_t required = Required(step.op);
  for (int k = 0; k < 4; k++) {
    if (!resolver.String(i, ReadU32(r + 32 + 4 * k), &step.str[k])) return false;
    if ((required & (1u << k)) && step.str[k] == nullptr) {
      return resolver.Fail(i, "string " + std::to_string(k) + " is required");
    }
  }
  for (int k = 0; k < 2; k++) {
    size_t index;
    if (!resolver.List(i, ReadU32(r + 48 + 4 * k), &index)) return false;
    if ((required & (L0 << k)) && index == SIZE_MAX) {
      return resolver.Fail(i, "list " + std::to_string(k) + " is required");
    }
    (k == 0 ? lists->first : lists->second) = index;
  }
  uint32_t blob = ReadU32(r + 56);
  uint32_t blob_len = ReadU32(r + 60);
  if (blob == 0) {
    if (required & BLOB) return resolver.Fail(i, "blob is required");
    step.blob = nullptr;
    step.blob_len = 0;
  } else {
    size_t at = blob - 1;
    if (at + blob_len > storage.data.size()) return resolver.Fail(i, "blob out of bounds");
    step.blob = storage.data.data() + at;
    step.blob_len = blob_len;
  }
  if (step.op == kOpSetgroups && step.blob_len % 4 != 0) return resolver.Fail(i, "gid list size");
  if (step.op == kOpSeccomp &&
      (step.blob_len == 0 || step.blob_len % 8 != 0 || step.blob_len / 8 > 4096)) {
    return resolver.Fail(i, "seccomp program size");
  }
  if (step.op == kOpDup2 &&
      (step.num[0] < 0 || step.num[1] < 0 || step.num[1] >= kPlanMaxTargetFd)) {
    return resolver.Fail(i, "dup2 fds out of range");
  }
  return true;
}

}  // namespace

bool ResolvePlanBuffer(const uint8_t* buffer, size_t length, PlanStorage* storage,
                       std::string* error) {
  if (length < kPlanHeaderSize) {
    *error = "invalid plan: too short";
    return false;
  }
  uint32_t magic = ReadU32(buffer);
  uint32_t version = ReadU32(buffer + 4);
  uint32_t count = ReadU32(buffer + 8);
  uint32_t data_size = ReadU32(buffer + 12);
  if (magic != kPlanMagic || version != kPlanVersion) {
    *error = "invalid plan: bad magic or version";
    return false;
  }
  if (count == 0 || count > kPlanMaxSteps) {
    *error = "invalid plan: step count out of range";
    return false;
  }
  size_t records_end = kPlanHeaderSize + static_cast<size_t>(count) * kPlanRecordSize;
  if (records_end + data_size != length) {
    *error = "invalid plan: sizes do not add up";
    return false;
  }

  // The data area is copied once and never resized: the steps point into it.
  storage->data.assign(reinterpret_cast<const char*>(buffer + records_end),
                       reinterpret_cast<const char*>(buffer + length));
  storage->steps.assign(count, ResolvedStep{});
  storage->lists.clear();
  // Lists are resolved into vectors of pointers; steps hold indices until the
  // end, because storage->lists may still move while it grows.
  std::vector<std::pair<size_t, size_t>> list_index(count, {SIZE_MAX, SIZE_MAX});
  Resolver resolver(*storage, *error);

  for (uint32_t i = 0; i < count; i++) {
    const uint8_t* r = buffer + kPlanHeaderSize + static_cast<size_t>(i) * kPlanRecordSize;
    if (!ResolveStep(resolver, *storage, r, i, &list_index[i])) return false;
  }
  // Only now are the list vectors final: point the steps at them.
  for (uint32_t i = 0; i < count; i++) {
    ResolvedStep& step = storage->steps[i];
    step.list[0] =
        list_index[i].first == SIZE_MAX ? nullptr : storage->lists[list_index[i].first].data();
    step.list[1] =
        list_index[i].second == SIZE_MAX ? nullptr : storage->lists[list_index[i].second].data();
  }
  return true;
}

}  // namespace hutch
