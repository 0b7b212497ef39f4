// zlh-api: the control plane (DESIGN.md §10). Not built yet: this binary only
// says so, so that `make run` and packaging have a stable target.
#include <iostream>

#include "version.hpp"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--version") {
      std::cout << zlh::kVersion << "\n";
      return 0;
    }
  }
  std::cerr << "zlh-api " << zlh::kVersion << ": the control plane is not implemented yet\n";
  return 3;
}
