package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// decodeBody reads one JSON object into dst: unknown fields, a wrong type, trailing data or
// malformed JSON give a 400 naming the field (or "body"); an oversized body gives 413.
func decodeBody(c *gin.Context, dst any) error {
	b, err := io.ReadAll(c.Request.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Param: "body", Message: fmt.Sprintf("body larger than %d bytes", mbe.Limit)}
	}
	if err != nil {
		return badParam("body", "cannot read: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return badParam(field, "must be %s", jsonKind(te.Type.Kind().String()))
		case errors.As(err, &se), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return badParam("body", "malformed JSON")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			// encoding/json has no typed error for this one; the field name is all we take from it.
			return badParam(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
		}
		return badParam("body", "malformed JSON")
	}
	if dec.More() {
		return badParam("body", "trailing data after the JSON object")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "a number"
}

// checkText validates a free-text field: valid UTF-8, no control characters, at most maxLen bytes,
// and not empty when required.
func checkText(param, v string, maxLen int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return badParam(param, "must not be empty")
	case len(v) > maxLen:
		return badParam(param, "longer than %d bytes", maxLen)
	case !utf8.ValidString(v):
		return badParam(param, "not valid UTF-8")
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return badParam(param, "contains control characters")
	}
	return nil
}
