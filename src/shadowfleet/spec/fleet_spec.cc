#include "shadowfleet/spec/fleet_spec.h"

#include "absl/strings/str_cat.h"

namespace shadowfleet {

std::string InstanceIdFor(const std::string& group, int index) {
  return absl::StrCat(group, "-", index);
}

nlohmann::json RenderConfiguration(const GroupSpec& group) {
  nlohmann::json software = nlohmann::json::object();
  for (const PackageSpec& package : group.software) {
    software[package.name] = package.version;
  }
  return {
      {"instanceType", group.instance_type},
      {"os", {{"name", group.os.name}, {"version", group.os.version}}},
      {"software", std::move(software)},
      {"config", group.configuration},
  };
}

const GroupSpec* FindGroup(const FleetSpec& fleet, const std::string& group_name) {
  for (const GroupSpec& group : fleet.groups) {
    if (group.name == group_name) {
      return &group;
    }
  }
  return nullptr;
}

}  // namespace shadowfleet
