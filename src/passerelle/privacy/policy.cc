#include "passerelle/privacy/policy.h"

#include <toml++/toml.h>

#include <algorithm>
#include <sstream>

#include "passerelle/base/text.h"

namespace passerelle::privacy {
namespace {

std::string Where(std::string_view label, const toml::source_region& region) {
  return std::string(label) + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column);
}

}  // namespace

bool AllowsAnalysis(const Policy& policy, std::string_view analysis) {
  return !policy.allowed_analyses ||
         std::find(policy.allowed_analyses->begin(), policy.allowed_analyses->end(), analysis) !=
             policy.allowed_analyses->end();
}

Policy DefaultPolicy(std::string site) {
  Policy p;
  p.site = std::move(site);
  return p;
}

std::string PolicyToToml(const Policy& p) {
  std::ostringstream out;
  out << "# Disclosure policy of site '" << p.site << "'.\n"
      << "# Every release of this node is checked against these rules, applied to this site's own\n"
      << "# contribution (with two sites, the other site could subtract its share of a pooled\n"
      << "# figure). Values may only be made stricter than the consortium defaults shown in\n"
      << "# brackets; a looser value is refused when the node starts. See docs/policy.md.\n\n"
      << "site = \"" << p.site << "\"\n\n"
      << "# Counts between 1 and min_cell_count - 1 are never released (tables are suppressed\n"
      << "# with complementary cells so margins cannot rebuild them). [5]\n"
      << "min_cell_count = " << p.min_cell_count << "\n\n"
      << "# A cohort (after the analysis' filters) smaller than this is refused. [10]\n"
      << "min_cohort_size = " << p.min_cohort_size << "\n\n"
      << "# A model may have at most this many parameters per record of the cohort, so a\n"
      << "# saturated model cannot reproduce individual values. [0.33]\n"
      << "max_parameters_per_record = " << p.max_parameters_per_record << "\n\n"
      << "# A model needs at least this many events at this site. [5]\n"
      << "min_events = " << p.min_events << "\n\n"
      << "# Survival times are released only on a grid: ceil(t / w) * w days, with w at least\n"
      << "# this, so no exact event date can be recovered. [30]\n"
      << "min_time_bin_days = " << p.min_time_bin_days << "\n\n"
      << "# A release whose cohort differs from one already released by 1 to this - 1 records\n"
      << "# is refused, whoever asks (differencing). [5]\n"
      << "min_cohort_difference = " << p.min_cohort_difference << "\n\n"
      << "# \"auto\": releases that pass the rules leave at once. \"manual\": each one waits for\n"
      << "# the custodian (passerelle node pending / approve / deny). [\"auto\"]\n"
      << "approval = \"" << p.approval << "\"\n\n"
      << "# \"protocol\": answer only the analyses of protocols this site's custodian approved\n"
      << "# (passerelle node protocols). \"open\": also answer studies outside any protocol, "
         "under\n"
      << "# the rules above alone; a researcher who combines many such answers can learn what the\n"
      << "# rules protect (docs/policy.md, the threat model). [\"protocol\"]\n"
      << "scope = \"" << p.scope << "\"\n\n"
      << "# A protocol's analysis flagged by the automatic review: \"refuse\" rejects the "
         "protocol,\n"
      << "# naming each flag; \"custodian\" shows the flags and lets the custodian decide.\n"
      << "# [\"refuse\"]\n"
      << "flagged = \"" << p.flagged << "\"\n\n"
      << "# Analyses this node answers, by name (`passerelle analyze --help` lists them); any\n"
      << "# other is refused. Absent: every analysis this version runs. [all]\n";
  if (!p.allowed_analyses) {
    out << "# allowed_analyses = []\n";
  } else {
    out << "allowed_analyses = [";
    for (size_t i = 0; i < p.allowed_analyses->size(); ++i) {
      out << (i ? ", " : "") << "\"" << (*p.allowed_analyses)[i] << "\"";
    }
    out << "]\n";
  }
  return out.str();
}

Result<Policy> ParsePolicy(std::string_view toml_text, std::string_view label,
                           std::span<const std::string> analyses) {
  toml::table root;
  try {
    root = toml::parse(toml_text, std::string(label));
  } catch (const toml::parse_error& error) {
    return InvalidArgument(Where(label, error.source()) + ": " + std::string(error.description()));
  }
  const Policy defaults = DefaultPolicy("");
  Policy p = defaults;
  for (const auto& [key, entry] : root) {
    const toml::node& node = entry;  // a plain reference: lambdas cannot capture bindings
    const std::string where = Where(label, node.source()) + ": " + std::string(key.str());
    auto integer_at_least = [&](int* field, int minimum) -> Status {
      auto value = node.value<int64_t>();
      if (!value) return InvalidArgument(where + ": must be a whole number");
      if (*value < minimum) {
        return InvalidArgument(where + " = " + std::to_string(*value) +
                               " is looser than the consortium default " + std::to_string(minimum) +
                               "; a site may only tighten it");
      }
      if (*value > 1000000) return InvalidArgument(where + ": value is out of range");
      *field = static_cast<int>(*value);
      return Status::Ok();
    };
    if (key == "site") {
      p.site = node.value_or(std::string());
    } else if (key == "min_cell_count") {
      RETURN_IF_ERROR(integer_at_least(&p.min_cell_count, defaults.min_cell_count));
    } else if (key == "min_cohort_size") {
      RETURN_IF_ERROR(integer_at_least(&p.min_cohort_size, defaults.min_cohort_size));
    } else if (key == "min_events") {
      RETURN_IF_ERROR(integer_at_least(&p.min_events, defaults.min_events));
    } else if (key == "min_time_bin_days") {
      RETURN_IF_ERROR(integer_at_least(&p.min_time_bin_days, defaults.min_time_bin_days));
    } else if (key == "min_cohort_difference") {
      RETURN_IF_ERROR(integer_at_least(&p.min_cohort_difference, defaults.min_cohort_difference));
    } else if (key == "max_parameters_per_record") {
      auto value = node.value<double>();
      if (!value || *value <= 0) return InvalidArgument(where + ": must be a positive number");
      if (*value > defaults.max_parameters_per_record) {
        return InvalidArgument(where +
                               " is looser than the consortium default 0.33; a site "
                               "may only tighten it");
      }
      p.max_parameters_per_record = *value;
    } else if (key == "approval") {
      p.approval = node.value_or(std::string());
      if (p.approval != "auto" && p.approval != "manual") {
        return InvalidArgument(where + ": must be \"auto\" or \"manual\"");
      }
    } else if (key == "scope") {
      p.scope = node.value_or(std::string());
      if (p.scope != "protocol" && p.scope != "open") {
        return InvalidArgument(where + ": must be \"protocol\" or \"open\"");
      }
    } else if (key == "flagged") {
      p.flagged = node.value_or(std::string());
      if (p.flagged != "refuse" && p.flagged != "custodian") {
        return InvalidArgument(where + ": must be \"refuse\" or \"custodian\"");
      }
    } else if (key == "allowed_analyses") {
      const toml::array* list = node.as_array();
      if (!list) return InvalidArgument(where + ": must be a list of analysis names");
      p.allowed_analyses.emplace();
      for (const auto& item : *list) {
        const std::string name = item.value_or(std::string());
        if (!IsValidName(name) || (!analyses.empty() && std::find(analyses.begin(), analyses.end(),
                                                                  name) == analyses.end())) {
          return InvalidArgument(Where(label, item.source()) + ": unknown analysis '" + name + "'");
        }
        p.allowed_analyses->push_back(name);
      }
    } else {
      return InvalidArgument(where + ": unknown key");
    }
  }
  if (!IsValidName(p.site)) {
    return InvalidArgument(std::string(label) +
                           ": 'site' is missing or not a site name (a letter, then letters, "
                           "digits, '_' or '.')");
  }
  return p;
}

}  // namespace passerelle::privacy
