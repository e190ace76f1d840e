package testenv

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The PromQL that the shipped dashboard and alert rules may use, read well
// enough to name the metrics a query selects.

// promFunctions lists the PromQL functions and aggregations the dashboard may call.
func promFunctions() []string {
	return []string{
		"sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile",
		"rate", "irate", "increase", "delta", "deriv",
		"histogram_quantile", "clamp_min", "clamp_max", "abs", "vector", "scalar",
		"avg_over_time", "max_over_time", "min_over_time",
	}
}

func promKeywords() []string {
	return []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
}

// Errors of MetricNames.
var (
	ErrUnknownFunction = errors.New("unknown function")
	ErrNoMetric        = errors.New("no metric")
)

// MetricNames returns the metric names a PromQL expression selects. It strips
// strings, label matchers, ranges, grouping clauses and variables, then takes
// every identifier not followed by "(" and not a keyword.
func MetricNames(expr string) ([]string, error) {
	strip := []struct {
		re   *regexp.Regexp
		with string
	}{
		{regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`"), `""`},
		{regexp.MustCompile(`\{[^}]*\}`), " "},
		{regexp.MustCompile(`\[[^\]]*\]`), " "},
		{regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`), " "},
		{regexp.MustCompile(`\$\{?\w+\}?`), " "},
		{regexp.MustCompile(`\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b`), " "},
	}
	s := expr
	for _, st := range strip {
		s = st.re.ReplaceAllString(s, st.with)
	}
	ident := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	var names []string
	for _, loc := range ident.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") {
			if !slices.Contains(promFunctions(), name) {
				return nil, fmt.Errorf("%w %q in %q", ErrUnknownFunction, name, expr)
			}
			continue
		}
		if slices.Contains(promKeywords(), name) {
			continue
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w in %q", ErrNoMetric, expr)
	}
	return names, nil
}
