// A read-only memory map of a whole model file, so loaders hand out pointers into the file
// instead of copying hundreds of megabytes of weights.
#ifndef PORTA_TOOLS_RUN_MAPPED_FILE_H_
#define PORTA_TOOLS_RUN_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace porta::run {

class MappedFile {
 public:
  // Maps the regular file at |path|. Throws ModelError naming the path and the system's reason
  // when it cannot be opened, is not a regular file or cannot be mapped. An empty file gives
  // data() == nullptr and size() == 0: the parsers report it, not this class.
  static MappedFile Open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  void Unmap();

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_MAPPED_FILE_H_
