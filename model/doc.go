// Package model holds wardops' domain types: the inventory (branches, devices, SNMP access,
// monitoring items), probe results, alerts and API tokens, and the errors that describe them.
//
// Every other package speaks these types: store maps PostgreSQL rows into them, the collector
// probes them, the query service maps them to its API views. They carry no JSON or database tags
// on purpose: how a type is stored or shown belongs to the package that stores or shows it, so a
// new field never leaks through an API by accident.
package model
