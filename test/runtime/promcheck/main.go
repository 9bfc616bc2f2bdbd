// promcheck reads Prometheus text exposition (format 0.0.4) on stdin with the reference parser
// (github.com/prometheus/common/expfmt) and prints the parsed families as JSON, or fails with the
// parser's error. The runtime's /metrics tests use it so that "parses as Prometheus text" means
// what Prometheus itself accepts.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

type sample struct {
	Labels map[string]string `json:"labels"`
	Value  *float64          `json:"value,omitempty"`
	Count  *uint64           `json:"count,omitempty"`
	Sum    *float64          `json:"sum,omitempty"`
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
				v := m.GetCounter().GetValue()
				s.Value = &v
			case dto.MetricType_GAUGE:
				v := m.GetGauge().GetValue()
				s.Value = &v
			case dto.MetricType_UNTYPED:
				v := m.GetUntyped().GetValue()
				s.Value = &v
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				count, sum := h.GetSampleCount(), h.GetSampleSum()
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
