// Package units writes quantities for people.
package units

import "strconv"

// Bytes writes n in the largest binary unit it reaches: "512 bytes",
// "100 MiB", "1.5 GiB" (one decimal unless the value is whole).
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	name := string("KMGTPE"[exp]) + "iB"
	if n%div == 0 {
		return strconv.FormatInt(n/div, 10) + " " + name
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + name
}
