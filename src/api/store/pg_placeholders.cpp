#include "api/store/pg_placeholders.hpp"

#include <algorithm>

namespace zlh::api::store {

namespace {

constexpr long kMaxParam = 32766;  // SQLITE_MAX_VARIABLE_NUMBER's default

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The index one past the quoted run that starts at sql[i] with `q`; a
// doubled quote is an escaped one. An unterminated run goes to the end:
// the server reports that, with the position.
size_t skip_quoted(std::string_view sql, size_t i, char q) {
  for (size_t j = i + 1; j < sql.size(); ++j) {
    if (sql[j] != q) continue;
    if (j + 1 < sql.size() && sql[j + 1] == q) {
      ++j;
      continue;
    }
    return j + 1;
  }
  return sql.size();
}

// The index one past the comment starting at sql[i], or i when none does.
size_t skip_comment(std::string_view sql, size_t i) {
  if (sql.compare(i, 2, "--") == 0) {
    size_t nl = sql.find('\n', i);
    return nl == std::string_view::npos ? sql.size() : nl + 1;
  }
  if (sql.compare(i, 2, "/*") == 0) {
    size_t end = sql.find("*/", i + 2);
    return end == std::string_view::npos ? sql.size() : end + 2;
  }
  return i;
}

}  // namespace

Result<PgSql> pg_placeholders(std::string_view sql) {
  PgSql out;
  out.text.reserve(sql.size() + 8);
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    size_t next = i + 1;
    if (c == '\'' || c == '"') {
      next = skip_quoted(sql, i, c);
    } else if (c == '-' || c == '/') {
      next = std::max(skip_comment(sql, i), i + 1);
    } else if (c == '?') {
      long n = 0;
      size_t j = i + 1;
      for (; j < sql.size() && is_digit(sql[j]); ++j)
        n = std::min(n * 10 + (sql[j] - '0'), kMaxParam + 1);
      if (j == i + 1) n = out.params + 1;
      if (n < 1 || n > kMaxParam)
        return fail(codes::kInvalid, "parameter " + std::string(sql.substr(i, j - i)) +
                                         " out of range: ?1 to ?32766");
      out.params = std::max(out.params, static_cast<int>(n));
      out.text += '$';
      out.text += std::to_string(n);
      i = j;
      continue;
    }
    out.text.append(sql.substr(i, next - i));
    i = next;
  }
  return out;
}

}  // namespace zlh::api::store
