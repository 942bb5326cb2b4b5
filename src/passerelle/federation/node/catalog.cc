// What the hub may know of the site's data (its catalog: names, versions, dictionaries, never a
// record), and the dataset tables a node keeps in memory between tasks.
#include <algorithm>

#include "passerelle/federation/node/node_impl.h"

namespace passerelle::federation {

// What the hub may know of this site's data (docs/protocol.md, the node's poll): each
// dataset's name, version, import date and dictionary, with its variables' names, types, units,
// descriptions and the levels the dictionary declares. Nothing is read from the records: no
// counts, no ranges, no levels inferred from the data. REQUIRES: `work` held.
json Node::Impl::Catalog() {
  json datasets = json::array();
  Result<std::vector<store::DatasetVersion>> versions = store->ListDatasets();
  if (!versions.ok()) return datasets;
  for (const store::DatasetVersion& v : *versions) {
    const auto cached = catalog_variables.try_emplace(v.dataset, -1, json()).first;
    if (cached->second.first == v.version) {
      datasets.push_back(DatasetEntry(v, cached->second.second));
      continue;
    }
    json variables = json::array();
    if (Result<data::Dictionary> d = store->Dictionary(v.dataset); d.ok()) {
      for (const data::Variable& var : d->variables) {
        json j = {{"name", var.name}, {"type", std::string(data::VarTypeName(var.type))}};
        if (!var.description.empty()) j["description"] = var.description;
        if (!var.unit.empty()) j["unit"] = var.unit;
        if (v.dictionary_source != "inferred" && !var.levels.empty()) j["levels"] = var.levels;
        variables.push_back(std::move(j));
      }
    }
    cached->second = {v.version, variables};
    datasets.push_back(DatasetEntry(v, std::move(variables)));
  }
  return datasets;
}

json Node::Impl::DatasetEntry(const store::DatasetVersion& v, json variables) {
  return {{"name", v.dataset},
          {"version", v.version},
          {"imported_at", v.imported_at},
          {"dictionary", v.dictionary_id},
          {"variables", std::move(variables)}};
}

Result<Node::Impl::Loaded*> Node::Impl::Table(const std::string& dataset,
                                              const std::set<std::string>& names) {
  ASSIGN_OR_RETURN(std::vector<store::DatasetVersion> versions, store->ListDatasets());
  for (const auto& v : versions) {
    if (v.dataset != dataset) continue;
    Loaded& loaded = tables[dataset];
    // The dataset's variables among the names (which spell functions and levels too).
    data::Dictionary dictionary;
    std::set<std::string> wanted;
    if (!names.empty()) {
      ASSIGN_OR_RETURN(dictionary, store->Dictionary(dataset));
      for (const data::Variable& var : dictionary.variables) {
        if (names.count(var.name)) wanted.insert(var.name);
      }
    }
    const bool same_version = loaded.version == v.version;
    if (same_version &&
        (loaded.every_variable ||
         (!names.empty() && std::includes(loaded.variables.begin(), loaded.variables.end(),
                                          wanted.begin(), wanted.end())))) {
      return &loaded;
    }
    // A new import, or a variable the table lacks: read again (the models built on the old
    // rows forgotten), with the variables held before when the version is the same.
    bool every = names.empty();
    if (same_version) wanted.insert(loaded.variables.begin(), loaded.variables.end());
    // The ledger knows a record by its identifier (the dataset's first), read on its own and
    // let go once the records are numbered; or, in a dataset without one or with a row missing
    // it, by all its values: such a dataset is read whole.
    std::vector<uint32_t> records;
    store::DatasetVersion numbered, read;
    if (!every) {
      std::set<std::string> identifier;
      for (const data::Variable& var : dictionary.variables) {
        if (var.type == data::VarType::kIdentifier) {
          identifier.insert(var.name);
          break;
        }
      }
      every = identifier.empty();
      if (!every) {
        ASSIGN_OR_RETURN(data::Table ids,
                         store->LoadTable(dataset, &numbered, nullptr, &identifier));
        every = ids.columns.empty();
        for (size_t r = 0; !every && r < ids.rows; ++r) every = ids.columns[0].IsMissing(r);
        if (!every) {
          ASSIGN_OR_RETURN(records,
                           ledger->Number(dataset, data::RecordIdentities(std::move(ids))));
        }
      }
    }
    data::Table table;
    if (every) {
      ASSIGN_OR_RETURN(table, store->LoadTable(dataset, &read));
      ASSIGN_OR_RETURN(records, ledger->Number(dataset, data::RecordIdentities(table)));
    } else {
      ASSIGN_OR_RETURN(table, store->LoadTable(dataset, &read, nullptr, &wanted));
      // Read twice: the rows numbered must be the rows read.
      if (read.version != numbered.version || table.rows != records.size()) {
        return Unavailable("site " + store->site_name() + ": dataset '" + dataset +
                           "' changed while it was read; ask again");
      }
    }
    loaded.table = std::move(table);
    loaded.records = std::move(records);
    loaded.version = read.version;
    loaded.every_variable = every;
    loaded.variables = every ? std::set<std::string>() : std::move(wanted);
    loaded.models.Clear();
    return &loaded;
  }
  return NotFound("site " + store->site_name() + " has no dataset '" + dataset + "'");
}

}  // namespace passerelle::federation
