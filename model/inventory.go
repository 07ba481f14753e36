package model

// ImportCredential is an SNMP credential as imported.
type ImportCredential struct {
	Name, Version string
	Community     Secret
	Username      string
	AuthProtocol  string
	AuthKey       Secret
	PrivProtocol  string
	PrivKey       Secret
}

// ImportDevice is one device as imported: names instead of ids, items already expanded from
// profiles.
type ImportDevice struct {
	Line          int // source line, for error messages
	Branch        string
	Region        string
	Name          string
	IP            string
	Vendor        string
	DeviceType    string
	Enabled       bool
	SNMPVersion   string
	SNMPCommunity Secret
	SNMPPort      int
	Credential    string // name of a snmp_credentials row, for v3
	Profiles      []string
	Parent        string
	Items         []ItemTemplate
}

// ImportStats counts what an import changed. Re-importing the same file gives all zeros but
// DevicesUnchanged.
type ImportStats struct {
	BranchesCreated, DevicesCreated, DevicesUpdated, DevicesUnchanged, ItemsUpserted, ItemsDeleted int
}

// InventoryVersion is a cheap fingerprint of devices and branches: when it has not moved, a
// cached inventory is still right, and the full list need not be read again. It counts the
// statements that changed either table.
type InventoryVersion int64
