// promcheck reads Prometheus text exposition (format 0.0.4) on stdin with the reference parser
// (github.com/prometheus/common/expfmt) and prints the parsed families as JSON, or fails with the
// parser's error. The runtime's /metrics tests use it so that "parses as Prometheus text" means
// what Prometheus itself accepts.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// number is a float64 that JSON cannot hold when it is NaN or infinite (which Prometheus text can,
// e.g. an event-loop lag gauge before its first sample): those are written as "NaN", "+Inf", "-Inf".
type number float64

func (n number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return []byte(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

type sample struct {
	Labels map[string]string `json:"labels"`
	Value  *number           `json:"value,omitempty"`
	Count  *uint64           `json:"count,omitempty"`
	Sum    *number           `json:"sum,omitempty"`
	// Buckets maps each upper bound (as Prometheus prints it) to its cumulative count.
	Buckets map[string]uint64 `json:"buckets,omitempty"`
}

type family struct {
	Name    string   `json:"name"`
	Help    string   `json:"help"`
	Type    string   `json:"type"`
	Samples []sample `json:"samples"`
}

func main() {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]family, 0, len(names))
	for _, name := range names {
		f := families[name]
		fam := family{Name: name, Help: f.GetHelp(), Type: f.GetType().String()}
		for _, m := range f.GetMetric() {
			s := sample{Labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v := number(m.GetCounter().GetValue())
				s.Value = &v
			case dto.MetricType_GAUGE:
				v := number(m.GetGauge().GetValue())
				s.Value = &v
			case dto.MetricType_UNTYPED:
				v := number(m.GetUntyped().GetValue())
				s.Value = &v
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				count, sum := h.GetSampleCount(), number(h.GetSampleSum())
				s.Count, s.Sum = &count, &sum
				s.Buckets = map[string]uint64{}
				for _, b := range h.GetBucket() {
					s.Buckets[model.FloatString(b.GetUpperBound()).String()] = b.GetCumulativeCount()
				}
			}
			fam.Samples = append(fam.Samples, s)
		}
		out = append(out, fam)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
