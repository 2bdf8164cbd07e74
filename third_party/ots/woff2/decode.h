/* WOFF 2.0 is a web-font wrapper that documents never embed; mukaika builds OTS without its
 * decoder (and the Brotli it needs), so a font in that wrapper is refused, not unpacked. */
#ifndef MUKAIKA_WOFF2_DECODE_H_
#define MUKAIKA_WOFF2_DECODE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace woff2 {

class WOFF2Out {
 public:
  virtual ~WOFF2Out() {}
};

class WOFF2StringOut : public WOFF2Out {
 public:
  explicit WOFF2StringOut(std::string *) {}
  void SetMaxSize(size_t) {}
  size_t Size() const { return 0; }
};

inline size_t ComputeWOFF2FinalSize(const uint8_t *, size_t) { return 0; }
inline bool ConvertWOFF2ToTTF(const uint8_t *, size_t, WOFF2Out *) { return false; }

}  // namespace woff2

#endif
