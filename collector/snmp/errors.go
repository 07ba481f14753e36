package snmp

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/gosnmp/gosnmp"
)

// Reasons label wardops_collector_snmp_errors_total and the per-device wardops_snmp_errors_total.
const (
	ReasonTimeout        = "timeout"          // no answer within timeout × (retries+1), or the poll's deadline
	ReasonRefused        = "refused"          // ICMP port unreachable: nothing listens on the SNMP port
	ReasonAuth           = "auth"             // v3 USM rejected (wrong digest, unknown user, decryption, level)
	ReasonNoSuchObject   = "no_such_object"   // the agent does not implement the object
	ReasonNoSuchInstance = "no_such_instance" // the object exists, the scalar instance does not
	ReasonErrorStatus    = "error_status"     // a non-zero error-status in a response (genErr, tooBig, ...)
	ReasonBadValue       = "bad_value"        // a value of a type the item cannot use
	ReasonEmptyTable     = "empty_table"      // a profile's table returned no row (and no fallback stood in); the poll still succeeds
	ReasonConfig         = "config"           // the device's SNMP settings are unusable (version, protocols)
	ReasonCanceled       = "canceled"         // the collector is shutting down
	ReasonOther          = "other"
)

var reasons = []string{ReasonTimeout, ReasonRefused, ReasonAuth, ReasonNoSuchObject, ReasonNoSuchInstance,
	ReasonErrorStatus, ReasonBadValue, ReasonEmptyTable, ReasonConfig, ReasonCanceled, ReasonOther}

// PollError is returned by Poll when a request failed; Reason is one of the Reason* constants.
// Its text names the device and the request, never a community or a key.
type PollError struct {
	Reason string
	Err    error
}

func (e *PollError) Error() string { return e.Err.Error() }
func (e *PollError) Unwrap() error { return e.Err }

// classify maps a gosnmp or network error to a reason. gosnmp wraps its USM failures in sentinel
// errors; timeouts come as ErrMaxRetriesExceeded, a context deadline or a net.Error.
func classify(err error) string {
	var pe *PollError
	var ne net.Error
	switch {
	case errors.As(err, &pe):
		return pe.Reason
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, gosnmp.ErrMaxRetriesExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, gosnmp.ErrWrongDigest), errors.Is(err, gosnmp.ErrUnknownUsername),
		errors.Is(err, gosnmp.ErrDecryption), errors.Is(err, gosnmp.ErrUnknownSecurityLevel),
		errors.Is(err, gosnmp.ErrUnknownSecurityModels), errors.Is(err, gosnmp.ErrUnknownEngineID),
		errors.Is(err, gosnmp.ErrNotInTimeWindow):
		return ReasonAuth
	case strings.Contains(err.Error(), "not authentic"):
		// gosnmp returns an untyped error when a response (typically the agent's unauthenticated
		// usmStatsWrongDigests Report) fails the HMAC check; its text is the only handle.
		return ReasonAuth
	}
	return ReasonOther
}
