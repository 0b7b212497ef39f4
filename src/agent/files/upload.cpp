#include "agent/files/upload.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "agent/files/as_user.hpp"
#include "base/safe_path.hpp"

namespace zlh::agent::files {

namespace {

constexpr size_t kMaxFieldBytes = 64 * 1024;

class UploadSink : public http::BodySink {
 public:
  UploadSink(FileStore store, std::string boundary, UploadOptions opts)
      : store_(std::move(store)),
        opts_(std::move(opts)),
        parser_(std::move(boundary),
                MultipartParser::Callbacks{[this](const PartHeaders& h) { return begin(h); },
                                           [this](std::string_view d) { return data(d); },
                                           [this] { return end(); }}) {}

  // Files are created, renamed and owned as the workload user (H2).
  Result<void> write(std::string_view chunk) override {
    AsUser as(store_.owner());
    if (auto c = as.check(); !c) return c;
    return parser_.feed(chunk);
  }

  void finish(http::Request&, http::Responder res) override {
    {
      AsUser as(store_.owner());
      if (auto c = as.check(); !c) return res.send_error(c.error());
      if (auto r = parser_.finish(); !r) return res.send_error(r.error());
    }
    if (opts_.respond) return res.send(opts_.respond(files_));
    res.send(http::Response::json(200, {{"files", files_}}));
  }

 private:
  Result<void> begin(const PartHeaders& h) {
    field_bytes_ = 0;
    if (!h.filename) {
      in_file_ = false;
      return {};
    }
    if (auto r = check_file_name(*h.filename); !r) return r;
    if (opts_.accept_name)
      if (auto r = opts_.accept_name(*h.filename); !r) return r;
    if (!dir_ready_) {
      if (auto r = make_dirs_owned(store_.root_fd(), opts_.dir, store_.owner()); !r) return r;
      dir_ready_ = true;
    }
    std::string rel = opts_.dir.empty() ? *h.filename : opts_.dir + "/" + *h.filename;
    auto f = AtomicFile::create(store_.root_fd(), rel, store_.owner(), false);
    if (!f) return fail(f.error());
    current_.emplace(std::move(*f));
    name_ = *h.filename;
    in_file_ = true;
    return {};
  }

  Result<void> data(std::string_view d) {
    if (!in_file_) {
      field_bytes_ += d.size();
      if (field_bytes_ > kMaxFieldBytes)
        return fail(Error::invalid("body", "form field over 64 KiB"));
      return {};
    }
    if (current_->size() + d.size() > opts_.max_file_bytes) {
      current_.reset();
      return fail(codes::kTooLarge,
                  name_ + ": file over " + std::to_string(opts_.max_file_bytes) + " bytes");
    }
    return current_->write(d);
  }

  Result<void> end() {
    if (!in_file_) return {};
    in_file_ = false;
    if (auto r = current_->commit(); !r) return r;
    files_.push_back({{"name", name_}, {"path", current_->rel()}, {"size", current_->size()}});
    current_.reset();
    return {};
  }

  FileStore store_;
  UploadOptions opts_;
  MultipartParser parser_;
  std::optional<AtomicFile> current_;  // dropped uncommitted on any failure: nothing left behind
  std::string name_;
  bool in_file_ = false;
  bool dir_ready_ = false;
  size_t field_bytes_ = 0;
  nlohmann::json files_ = nlohmann::json::array();
};

class WriteSink : public http::BodySink {
 public:
  WriteSink(AtomicFile f, uint64_t max, std::optional<Owner> owner)
      : file_(std::move(f)), max_(max), owner_(owner) {}
  Result<void> write(std::string_view chunk) override {
    if (file_.size() + chunk.size() > max_)
      return fail(codes::kTooLarge, "file over " + std::to_string(max_) + " bytes");
    return file_.write(chunk);
  }
  void finish(http::Request&, http::Responder res) override {
    {
      AsUser as(owner_);  // the rename into place, as the workload user (H2)
      if (auto c = as.check(); !c) return res.send_error(c.error());
      if (auto r = file_.commit(); !r) return res.send_error(r.error());
    }
    res.send(http::Response::json(200, {{"path", file_.rel()}, {"size", file_.size()}}));
  }

 private:
  AtomicFile file_;
  uint64_t max_;
  std::optional<Owner> owner_;
};

}  // namespace

Result<std::unique_ptr<http::BodySink>> make_upload_sink(FileStore store, const http::Request& req,
                                                         UploadOptions opts) {
  auto norm = user_path(opts.dir, true);
  if (!norm) return fail(norm.error());
  opts.dir = *norm;
  // Refuse a directory that leads outside before reading a byte of the body.
  AsUser as(store.owner());
  if (auto c = as.check(); !c) return fail(c.error());
  if (!norm->empty()) {
    auto d = safe_path::open_beneath(store.root_fd(), *norm, O_PATH);
    if (!d && d.error().code != codes::kNotFound) return fail(d.error());
    if (d) ::close(*d);
  }
  auto ct = req.headers.get("Content-Type");
  if (!ct) return fail(Error::invalid("Content-Type", "want multipart/form-data"));
  auto boundary = boundary_from_content_type(*ct);
  if (!boundary) return fail(boundary.error());
  return std::make_unique<UploadSink>(std::move(store), std::move(*boundary), std::move(opts));
}

Result<std::unique_ptr<http::BodySink>> make_write_sink(FileStore store, const std::string& rel,
                                                        uint64_t max_bytes) {
  AsUser as(store.owner());
  if (auto c = as.check(); !c) return fail(c.error());
  auto f = AtomicFile::create(store.root_fd(), rel, store.owner(), true);
  if (!f) return fail(f.error());
  return std::make_unique<WriteSink>(std::move(*f), max_bytes, store.owner());
}

}  // namespace zlh::agent::files
