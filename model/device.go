package model

import (
	"fmt"
	"net/netip"
	"time"
)

// Branch is one site of the fleet.
type Branch struct {
	ID        int64
	Name      string
	Region    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SNMP is a device's SNMP access, with its credential resolved.
type SNMP struct {
	Version      string // "" (no SNMP), "1", "2c" or "3"
	Port         int
	Credential   string // name of the shared credential, "" for settings of the device's own
	Community    Secret
	Username     string
	AuthProtocol string
	AuthKey      Secret
	PrivProtocol string
	PrivKey      Secret
}

func (s SNMP) String() string {
	return fmt.Sprintf("snmp v%s port %d user %q", s.Version, s.Port, s.Username)
}

// DeviceSummary is a device without any SNMP access data: what the fleet view needs, so secrets
// never leave PostgreSQL for a list or a dashboard.
type DeviceSummary struct {
	ID           int64
	Name         string
	IP           netip.Addr
	Vendor       string
	DeviceType   string
	BranchID     int64
	Branch       string
	Region       string
	Enabled      bool
	ParentID     *int64
	PingInterval time.Duration // 0: the collector's default
}

// Device is one monitored device with its branch and SNMP access resolved: what the collector
// probes and what an admin edits.
type Device struct {
	DeviceSummary
	SNMP      SNMP
	Profiles  []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DeviceChange is a device as written through the API. Items are the device's profile items,
// already expanded; they replace the old profile items when ReplaceItems is set.
type DeviceChange struct {
	Name                string
	IP                  netip.Addr
	Vendor              string
	DeviceType          string
	BranchID            int64
	Enabled             bool
	ParentID            *int64
	SNMPVersion         string
	SNMPCommunity       Secret
	KeepSecret          bool // update only: leave the stored community as it is (SNMPCommunity is ignored)
	SNMPPort            int
	Credential          string // snmp_credentials name, "" for none
	Profiles            []string
	PingIntervalSeconds *int
	ReplaceItems        bool
	Items               []ItemTemplate
}

// Item is one SNMP monitoring item of a device: a scalar OID or a table column walked with
// GETBULK, whose Labels map label names (ifName) to the column OIDs that supply them.
type Item struct {
	ID        int64
	DeviceID  int64
	Name      string
	OID       string
	Kind      string // scalar or table
	ValueType string // counter, gauge or info
	Labels    map[string]string
	Profile   string
	Table     string        // for a table item: the table's name in wardops_snmp_table_rows
	Fallback  ItemFallback  // for a table item: the column read where Labels' rows lack this one
	Interval  time.Duration // 0: the collector's default
	Enabled   bool
}

// ItemFallback is a second column a table item reads for the rows (indexes) its own column does
// not return: ifInOctets (Counter32, ifTable) where ifHCInOctets (Counter64, ifXTable) is missing,
// because SNMPv1 cannot carry Counter64 and old agents have no ifXTable. OID empty: none.
type ItemFallback struct {
	OID     string
	Table   string  // the fallback column's table, named as Item.Table
	Divisor float64 // divides a fallback value into the item's unit (ifSpeed bit/s ÷ 1e6 = Mbit/s); 0 means 1
}

// ItemTemplate is a monitoring item expanded from a profile, before it belongs to a device.
type ItemTemplate struct {
	Name, OID, Kind, ValueType, Profile, Table string
	Labels                                     map[string]string
	Fallback                                   ItemFallback
}

// Fleet is what the collector probes: every enabled device and the enabled items of each.
type Fleet struct {
	Devices []Device
	Items   map[int64][]Item // by device id
}
