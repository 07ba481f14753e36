package query

import (
	"errors"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/wardops/wardops/model"
)

// deviceWrites creates, updates and deletes devices; every write invalidates the snapshot so the
// next read shows it.
type deviceWrites struct {
	responder
	st      DeviceWriter
	snaps   *snapshots
	expand  Expander // nil: snmp_profiles cannot be given
	targets model.TargetPolicy
}

// snmpBody is a device's SNMP access as written. Community is accepted but never returned.
type snmpBody struct {
	Version    *string `json:"version"`
	Port       *int    `json:"port"`
	Community  *string `json:"community"`
	Credential *string `json:"credential"`
}

// deviceBody is a device create (all required fields) or a partial update (only fields given).
type deviceBody struct {
	Name                *string   `json:"name"`
	IP                  *string   `json:"ip"`
	Vendor              *string   `json:"vendor"`
	DeviceType          *string   `json:"device_type"`
	BranchID            *int64    `json:"branch_id"`
	Enabled             *bool     `json:"enabled"`
	ParentID            *int64    `json:"parent_id"`
	ClearParent         bool      `json:"clear_parent"`
	SNMP                *snmpBody `json:"snmp"`
	Profiles            *[]string `json:"snmp_profiles"`
	PingIntervalSeconds *int      `json:"ping_interval_seconds"`
}

// apply validates the body and merges it onto in (zero for a create), naming the first bad field.
func (h *deviceWrites) apply(b *deviceBody, in *model.DeviceChange, create bool) error {
	if create {
		for _, req := range []struct {
			name string
			ok   bool
		}{{"name", b.Name != nil}, {"ip", b.IP != nil}, {"branch_id", b.BranchID != nil}} {
			if !req.ok {
				return badParam(req.name, "required")
			}
		}
		in.Enabled, in.SNMPPort = true, 161
	}
	if b.Name != nil {
		if err := checkText("name", *b.Name, 200, true); err != nil {
			return err
		}
		in.Name = *b.Name
	}
	if b.IP != nil {
		ip, err := netip.ParseAddr(*b.IP)
		if err != nil || ip.Zone() != "" {
			return badParam("ip", "must be an IPv4 or IPv6 address")
		}
		if err := h.targets.Check(ip); err != nil {
			return badParam("ip", "%v", err)
		}
		in.IP = ip.Unmap()
	}
	for _, f := range []struct {
		name string
		v    *string
		dst  *string
	}{{"vendor", b.Vendor, &in.Vendor}, {"device_type", b.DeviceType, &in.DeviceType}} {
		if f.v == nil {
			continue
		}
		if err := checkText(f.name, *f.v, 100, false); err != nil {
			return err
		}
		*f.dst = *f.v
	}
	if b.BranchID != nil {
		if *b.BranchID <= 0 {
			return badParam("branch_id", "must be a positive integer")
		}
		in.BranchID = *b.BranchID
	}
	if b.Enabled != nil {
		in.Enabled = *b.Enabled
	}
	if b.ParentID != nil {
		if *b.ParentID <= 0 {
			return badParam("parent_id", "must be a positive integer")
		}
		in.ParentID = b.ParentID
	}
	if b.ClearParent {
		in.ParentID = nil
	}
	if b.PingIntervalSeconds != nil {
		if *b.PingIntervalSeconds < 1 || *b.PingIntervalSeconds > 86400 {
			return badParam("ping_interval_seconds", "must be from 1 to 86400")
		}
		in.PingIntervalSeconds = b.PingIntervalSeconds
	}
	if err := applySNMP(b.SNMP, in); err != nil {
		return err
	}
	if b.Profiles != nil {
		for _, p := range *b.Profiles {
			if !itemNameRe.MatchString(p) && !profileNameRe.MatchString(p) {
				return badParam("snmp_profiles", "%q is not a profile name", p)
			}
		}
		in.Profiles, in.ReplaceItems = *b.Profiles, true
	}
	if len(in.Profiles) > 0 && in.SNMPVersion == "" {
		return badParam("snmp_profiles", "given without snmp.version")
	}
	if in.ReplaceItems {
		if len(in.Profiles) > 0 && h.expand == nil {
			return badParam("snmp_profiles", "profiles are not available in this server")
		}
		in.Items = nil
		if len(in.Profiles) > 0 {
			items, err := h.expand(in.Profiles)
			if err != nil {
				return badParam("snmp_profiles", "%v", err)
			}
			in.Items = items
		}
	}
	return nil
}

var profileNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

func applySNMP(b *snmpBody, in *model.DeviceChange) error {
	if b == nil {
		return nil
	}
	if b.Version != nil {
		switch *b.Version {
		case "", "1", "2c", "3":
			in.SNMPVersion = *b.Version
		default:
			return badParam("snmp.version", `must be "", "1", "2c" or "3"`)
		}
	}
	if b.Port != nil {
		if *b.Port < 1 || *b.Port > 65535 {
			return badParam("snmp.port", "must be from 1 to 65535")
		}
		in.SNMPPort = *b.Port
	}
	if b.Community != nil {
		// Never echo the value, even in an error.
		if len(*b.Community) > 255 {
			return badParam("snmp.community", "longer than 255 bytes")
		}
		in.SNMPCommunity = model.Secret(*b.Community)
	}
	if b.Credential != nil {
		if err := checkText("snmp.credential", *b.Credential, 200, false); err != nil {
			return err
		}
		in.Credential = *b.Credential
	}
	if in.SNMPVersion == "3" && in.Credential == "" {
		return badParam("snmp.credential", "required for SNMP version 3")
	}
	return nil
}

func (h *deviceWrites) create(c *gin.Context) {
	var body deviceBody
	if err := decodeBody(c, &body); err != nil {
		h.fail(c, err)
		return
	}
	var in model.DeviceChange
	if err := h.apply(&body, &in, true); err != nil {
		h.fail(c, err)
		return
	}
	if namesCredential(&body) && !hasScope(c, scopeAdmin) {
		h.fail(c, needAdmin("snmp.credential", "attaching a stored SNMP credential aims its secrets at this device's address"))
		return
	}
	ctx := c.Request.Context()
	id, err := h.st.CreateDevice(ctx, in)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/devices/"+strconv.FormatInt(id, 10))
	h.written(c, id, http.StatusCreated)
}

// written answers a write with the device as stored now, after telling the snapshot cache that
// the inventory moved.
func (h *deviceWrites) written(c *gin.Context, id int64, status int) {
	h.snaps.invalidate()
	d, err := h.st.GetDevice(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(status, detailOf(d))
}

func (h *deviceWrites) update(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	var body deviceBody
	if err := decodeBody(c, &body); err != nil {
		h.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	cur, err := lookupDevice(ctx, h.st, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	in := inputOf(cur)
	if err := h.apply(&body, &in, false); err != nil {
		h.fail(c, err)
		return
	}
	if err := checkSNMPChange(c, cur, &body, &in); err != nil {
		h.fail(c, err)
		return
	}
	err = h.st.UpdateDevice(ctx, id, in)
	if errors.Is(err, model.ErrNotFound) {
		err = notFound("device", id)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.written(c, id, http.StatusOK)
}

func (h *deviceWrites) delete(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	err = h.st.DeleteDevice(c.Request.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		err = notFound("device", id)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.snaps.invalidate()
	c.Status(http.StatusNoContent)
}

// namesCredential says whether the body attaches a stored credential.
func namesCredential(b *deviceBody) bool {
	return b.SNMP != nil && b.SNMP.Credential != nil && *b.SNMP.Credential != ""
}

func needAdmin(param, why string) *apiError {
	return &apiError{Status: http.StatusForbidden, Param: param, Message: param + ": needs an admin token: " + why}
}

// checkSNMPChange guards the SNMP secret of a device being updated. The collector sends the
// community (in clear, for v1/v2c) or uses the v3 keys against whatever address the device has,
// so a write token that could move a device, or change how it is polled, without knowing its
// secret could aim that secret at an address it listens on. So:
//   - attaching a stored credential needs admin;
//   - changing the address of a device with SNMP access needs its secret given again
//     (snmp.community, or snmp.credential with admin): the stored one is never carried over;
//   - changing the SNMP version or port needs admin or the community given again.
//
// Otherwise the stored community is kept as it is (the API never reads it back).
func checkSNMPChange(c *gin.Context, cur model.Device, b *deviceBody, in *model.DeviceChange) error {
	communityGiven := b.SNMP != nil && b.SNMP.Community != nil
	if namesCredential(b) && !hasScope(c, scopeAdmin) {
		return needAdmin("snmp.credential", "attaching a stored SNMP credential aims its secrets at this device's address")
	}
	hadSNMP := cur.SNMP.Version != ""
	if in.IP != cur.IP && hadSNMP && in.SNMPVersion != "" && !communityGiven && !namesCredential(b) {
		return badParam("ip", "moving a device with SNMP access needs its secret again (snmp.community, or snmp.credential "+
			"with an admin token): the stored one is not carried to a new address")
	}
	// Dropping SNMP (version "") aims nothing anywhere and needs no more than write.
	if (in.SNMPVersion != cur.SNMP.Version || in.SNMPPort != cur.SNMP.Port) && hadSNMP && in.SNMPVersion != "" &&
		!communityGiven && !hasScope(c, scopeAdmin) {
		return needAdmin("snmp", "changing the SNMP version or port of a device needs admin or snmp.community given again")
	}
	switch {
	case communityGiven:
	case in.IP != cur.IP || in.SNMPVersion == "":
		in.SNMPCommunity = "" // a moved device, or one without SNMP, keeps no community
	default:
		in.KeepSecret = true
	}
	if namesCredential(b) || (in.Credential != "" && !communityGiven) {
		in.KeepSecret, in.SNMPCommunity = false, "" // on a credential, the device's own community is unused
	}
	return nil
}

// inputOf turns a stored device back into a write, for a partial update to merge onto. The
// stored device carries no secret (the store never reads one out for the API); checkSNMPChange
// decides whether the stored community stays.
func inputOf(d model.Device) model.DeviceChange {
	in := model.DeviceChange{Name: d.Name, IP: d.IP, Vendor: d.Vendor, DeviceType: d.DeviceType, BranchID: d.BranchID,
		Enabled: d.Enabled, ParentID: d.ParentID, SNMPVersion: d.SNMP.Version, SNMPPort: d.SNMP.Port,
		Credential: d.SNMP.Credential, Profiles: d.Profiles}
	if d.PingInterval > 0 {
		sec := int(d.PingInterval / time.Second)
		in.PingIntervalSeconds = &sec
	}
	return in
}
