using System.Diagnostics.Metrics;
using AnomalyActors.Testing;
using AnomalyActors.Web.Metrics;
using Xunit;

namespace AnomalyActors.Web.Tests;

public sealed class PrometheusExporterSpecs
{
    [Fact]
    public void Should_export_counters_gauges_and_histograms_recorded_before_the_first_scrape()
    {
        using var meter = new Meter("AnomalyActors.Tests.Exporter");
        using var exporter = new PrometheusExporter(meter);
        var readings = meter.CreateCounter<long>("anomaly_actors_readings", "{reading}", "Readings \\ with a backslash");
        var latency = meter.CreateHistogram<double>("anomaly_actors_alert_latency_seconds", "s", "Produce to alert.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1, 10] });
        meter.CreateObservableGauge("anomaly_actors_sensors_active", () => 7L, "{sensor}", "Active sensors.");
        meter.CreateObservableCounter("anomaly_actors_dead_letters", () => new[]
        {
            new Measurement<long>(3, new KeyValuePair<string, object?>("reason", "InvalidJson")),
            new Measurement<long>(1, new KeyValuePair<string, object?>("reason", "with \"quotes\"\nand a newline")),
        }, "{message}", "Dead letters.");
        readings.Add(5);
        readings.Add(2);
        latency.Record(0.05);
        latency.Record(1);
        latency.Record(99);

        var text = exporter.Scrape();

        Assert.Contains("# TYPE anomaly_actors_readings_total counter\nanomaly_actors_readings_total 7\n", text);
        Assert.Contains("# HELP anomaly_actors_readings_total Readings \\\\ with a backslash\n", text);
        Assert.Contains("anomaly_actors_alert_latency_seconds_bucket{le=\"0.1\"} 1\n", text);
        Assert.Contains("anomaly_actors_alert_latency_seconds_bucket{le=\"1\"} 2\n", text);
        Assert.Contains("anomaly_actors_alert_latency_seconds_bucket{le=\"10\"} 2\n", text);
        Assert.Contains("anomaly_actors_alert_latency_seconds_bucket{le=\"+Inf\"} 3\n", text);
        Assert.Contains("anomaly_actors_alert_latency_seconds_count 3\n", text);
        Assert.Contains("anomaly_actors_alert_latency_seconds_sum 100.05\n", text);
        Assert.Contains("# TYPE anomaly_actors_sensors_active gauge\nanomaly_actors_sensors_active 7\n", text);
        Assert.Contains("anomaly_actors_dead_letters_total{reason=\"InvalidJson\"} 3\n", text);
        Assert.Contains("anomaly_actors_dead_letters_total{reason=\"with \\\"quotes\\\"\\nand a newline\"} 1\n", text);
        // An observable counter reports its cumulative value: a second scrape does not add it again.
        Assert.Contains("anomaly_actors_dead_letters_total{reason=\"InvalidJson\"} 3\n", exporter.Scrape());

        Promtool.AssertAccepts(text);
    }

    [Fact]
    public void Should_drop_a_series_an_observable_instrument_no_longer_reports()
    {
        using var meter = new Meter("AnomalyActors.Tests.Observed");
        using var exporter = new PrometheusExporter(meter);
        long? lag = 5;
        meter.CreateObservableGauge("lag", () => lag is { } value ? [new Measurement<long>(value)] : Array.Empty<Measurement<long>>());

        Assert.Contains("lag 5\n", exporter.Scrape());
        lag = null;
        Assert.DoesNotContain("lag 5", exporter.Scrape());
        lag = 7;
        Assert.Contains("lag 7\n", exporter.Scrape());
    }

    [Fact]
    public void Should_add_constant_labels_to_series_without_them()
    {
        using var node = new Meter("AnomalyActors.Tests.Node");
        using var host = new Meter("AnomalyActors.Tests.Host");
        using var exporter = new PrometheusExporter([node, host], new Dictionary<string, string> { ["site"] = "dc1" });
        node.CreateCounter<long>("writes").Add(2);
        host.CreateCounter<long>("alerts").Add(1, new KeyValuePair<string, object?>("site", "dc2"));

        var text = exporter.Scrape();

        Assert.Contains("writes_total{site=\"dc1\"} 2\n", text);
        Assert.Contains("alerts_total{site=\"dc2\"} 1\n", text);
        Promtool.AssertAccepts(text);
    }

    [Fact]
    public void Should_export_only_the_instruments_of_its_own_meter()
    {
        using var mine = new Meter("AnomalyActors.Tests.Mine");
        using var other = new Meter("AnomalyActors.Tests.Mine");
        using var exporter = new PrometheusExporter(mine);
        mine.CreateCounter<long>("mine_events").Add(1);
        other.CreateCounter<long>("other_events").Add(1);

        var text = exporter.Scrape();
        Assert.Contains("mine_events_total 1", text);
        Assert.DoesNotContain("other_events", text);
    }
}
