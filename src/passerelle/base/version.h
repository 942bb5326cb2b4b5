// Passerelle's version, as `passerelle --version` prints it and reports record it.
#ifndef PASSERELLE_BASE_VERSION_H_
#define PASSERELLE_BASE_VERSION_H_

namespace passerelle {

inline constexpr char kVersion[] = "0.1.0";

}  // namespace passerelle

#endif  // PASSERELLE_BASE_VERSION_H_
