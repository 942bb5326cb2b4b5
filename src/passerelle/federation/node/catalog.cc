// What the hub may know of the site's data (its catalog: names, versions, dictionaries, never a
// record), and the dataset tables a node keeps in memory between tasks.
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

Result<Node::Impl::Loaded*> Node::Impl::Table(const std::string& dataset) {
  ASSIGN_OR_RETURN(std::vector<store::DatasetVersion> versions, store->ListDatasets());
  for (const auto& v : versions) {
    if (v.dataset != dataset) continue;
    Loaded& loaded = tables[dataset];
    if (loaded.version != v.version) {  // a new import: reload, forget the old models
      ASSIGN_OR_RETURN(loaded.table, store->LoadTable(dataset));
      ASSIGN_OR_RETURN(loaded.records,
                       ledger->Number(dataset, data::RecordIdentities(loaded.table)));
      loaded.version = v.version;
      loaded.models.Clear();
    }
    return &loaded;
  }
  return NotFound("site " + store->site_name() + " has no dataset '" + dataset + "'");
}

}  // namespace passerelle::federation
