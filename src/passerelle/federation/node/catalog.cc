// What the hub may know of the site's data (its catalog: names, versions, dictionaries, never a
// record), and the dataset tables a node keeps in memory between tasks.
#include <algorithm>

#include "passerelle/base/memory.h"
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
    const auto unread = [&loaded](const std::string& name) { return loaded.unread.count(name); };
    const bool same_version = loaded.version == v.version;
    if (same_version && (names.empty() ? loaded.unread.empty()
                                       : std::none_of(names.begin(), names.end(), unread))) {
      return &loaded;
    }
    // A new import, or a variable the table lacks: read again (the models built on the old
    // rows forgotten), with the variables held before when the version is the same. The names
    // spell functions and levels too: only the dataset's variables among them are read.
    loaded.models.Clear();  // they read the table's rows at each step
    ASSIGN_OR_RETURN(data::Dictionary dictionary, store->Dictionary(dataset));
    std::set<std::string> read;
    for (const data::Variable& var : dictionary.variables) {
      if (names.count(var.name) || (same_version && !unread(var.name))) read.insert(var.name);
    }
    // Each row numbered in the ledger by its ordinal: the numbers were found at the import and
    // kept with the ledger, so reading the rows hashes nothing.
    store::DatasetVersion version;
    std::vector<uint32_t> records;
    ASSIGN_OR_RETURN(data::Table table,
                     store->LoadTable(dataset, &version, &dictionary,
                                      names.empty() ? nullptr : &read, &records));
    {
      ASSIGN_OR_RETURN(const std::vector<uint32_t> numbers,
                       store->RecordNumbers(version, ledger.get()));
      for (uint32_t& r : records) {
        if (r >= numbers.size()) return Internal(dataset + ": a row's ordinal is out of range");
        r = numbers[r];
      }
    }
    loaded.records = std::move(records);
    loaded.unread.clear();
    for (const data::Variable& var : dictionary.variables) {
      if (!table.Find(var.name)) loaded.unread.insert(var.name);
    }
    loaded.table = std::move(table);
    loaded.version = version.version;
    // The reading's buffers, freed, are given back: a slice's frames would not take their
    // place, and a node's peak would be the reading's plus the step's.
    ReturnFreedMemory();
    return &loaded;
  }
  return NotFound("site " + store->site_name() + " has no dataset '" + dataset + "'");
}

}  // namespace passerelle::federation
