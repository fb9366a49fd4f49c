// Package function is the sha512sum function of the gofaas store
// (template go, classic watchdog): it answers with the SHA-512 digest of
// the request body.
package function

import (
	"crypto/sha512"
	"encoding/hex"
)

// Handle returns the hex SHA-512 digest of req and a newline.
func Handle(req []byte) string {
	sum := sha512.Sum512(req)
	return hex.EncodeToString(sum[:]) + "\n"
}
