using System.Diagnostics.Metrics;
using AnomalyActors.Core.DeadLetters;

namespace AnomalyActors.Host;

/// <summary>
/// The node's counters as System.Diagnostics.Metrics instruments, read when a scrape asks, so the hot
/// paths keep their lock-free counters and pay nothing for metrics. Names follow Prometheus'
/// conventions once exported (counters gain _total).
/// </summary>
internal static class NodeInstruments
{
    public static void Register(Meter meter, AnomalyHost host, IntakeLagSampler? intakeLag, Kafka.KafkaTopicSampler? topics)
    {
        var site = new KeyValuePair<string, object?>("site", host.Settings.Archive.Site);
        void Counter(string name, Func<long> read, string unit, string description) =>
            meter.CreateObservableCounter(name, () => new Measurement<long>(read(), site), unit, description);

        var node = host.Node.Metrics;
        Counter("anomaly_actors_readings_scored", () => node.ReadingsScored, "{reading}", "Readings scored by this node's sensors.");
        Counter("anomaly_actors_readings_rejected", () => node.ReadingsRejected, "{reading}", "Readings a sensor's detectors rejected (not finite, out of order).");
        Counter("anomaly_actors_readings_durable", () => node.ReadingsDurable, "{reading}", "Readings stored in this node's intake journal.");
        Counter("anomaly_actors_readings_refused", () => node.ReadingsRefused, "{reading}", "Readings a sensor refused because they came from another partition than its stream's.");
        Counter("anomaly_actors_episodes_opened", () => node.EpisodesOpened, "{episode}", "Anomaly episodes opened (alerts raised).");
        Counter("anomaly_actors_episodes_closed", () => node.EpisodesClosed, "{episode}", "Anomaly episodes closed (alerts cleared).");
        Counter("anomaly_actors_snapshots_saved", () => node.SnapshotsSaved, "{snapshot}", "Sensor snapshots saved.");
        Counter("anomaly_actors_model_adoptions", () => node.ModelAdoptions, "{stream}", "Streams that took a global model version (once per stream and version).");
        if (host.CurrentModel is { } current)
        {
            meter.CreateObservableGauge("anomaly_actors_model_info",
                () => current.Model is { } model ? [new Measurement<long>(1, site, new KeyValuePair<string, object?>("version", model.Version))] : Array.Empty<Measurement<long>>(),
                "{model}", "The global model version this node's sensors take (1, labelled with the version; absent before the first).");
        }

        meter.CreateObservableCounter("anomaly_actors_dead_letters",
            () => DeadLettersByReason(host).Select(d => new Measurement<long>(d.Value, site, new KeyValuePair<string, object?>("reason", d.Key.ToString()))),
            "{message}", "Input that did not become scored readings, by reason.");
        if (intakeLag is not null)
        {
            // No sample (yet, or partitions moving): no value, rather than a misleading zero.
            meter.CreateObservableGauge("anomaly_actors_intake_sensors_behind",
                () => intakeLag.Latest is { } lag ? [new Measurement<long>(lag.SensorsBehind, site)] : Array.Empty<Measurement<long>>(),
                "{sensor}", "Sensors whose readings an intake partition still holds for them (sampled every 5 s).");
            meter.CreateObservableGauge("anomaly_actors_intake_readings_retained",
                () => intakeLag.Latest is { } lag ? [new Measurement<long>(lag.ReadingsRetained, site)] : Array.Empty<Measurement<long>>(),
                "{reading}", "Readings the intake keeps because some sensor has not snapshotted past them (sampled every 5 s).");
        }

        meter.CreateObservableCounter("anomaly_actors_notifications",
            () => host.Notifier is { } notifier
                ? notifier.Counters.All().Select(c => new Measurement<long>(c.Count, site, new KeyValuePair<string, object?>("channel", c.Channel), new KeyValuePair<string, object?>("outcome", c.Outcome)))
                : [],
            "{notification}", "Notification outcomes by channel: delivered (changes), failed (attempts), silenced, dropped, repeat-skipped.");
        if (topics is not null)
        {
            meter.CreateObservableGauge("anomaly_actors_kafka_topic_messages",
                () => topics.Latest is { } sample
                    ? sample.Topics.Select(t => new Measurement<long>(t.Messages, site, new KeyValuePair<string, object?>("topic", t.Topic)))
                    : [],
                "{message}", "Messages each of the site's topics holds (high minus low watermark; sampled every 10 s).");
            meter.CreateObservableGauge("anomaly_actors_kafka_consumer_lag",
                () => topics.Latest is { ReadingsLag: { } lag }
                    ? [new Measurement<long>(lag, site, new KeyValuePair<string, object?>("topic", host.Settings.Kafka.ReadingsTopic))]
                    : Array.Empty<Measurement<long>>(),
                "{message}", "Messages of the readings topic beyond the node's committed offsets (sampled every 10 s).");
        }

        if (host.Settings.Archive.Enabled)
        {
            // Read at each scrape: with Kafka the collector starts after the dashboard.
            Counter("anomaly_actors_archive_rows", () => (host.LocalArchive?.RowsCommitted ?? 0) + (host.KafkaArchive?.RowsCommitted ?? 0), "{row}",
                "Rows this node made visible in the archive's Parquet files (enriched readings and alerts).");
            Counter("anomaly_actors_archive_files", () => (host.LocalArchive?.FilesCommitted ?? 0) + (host.KafkaArchive?.FilesCommitted ?? 0), "{file}",
                "Parquet files this node made visible in the archive.");
            Counter("anomaly_actors_archive_records_rejected", () => host.KafkaArchive?.Rejected ?? 0, "{record}",
                "Records of the result topics that did not read as results (skipped, each reported).");
            Counter("anomaly_actors_archive_records_lost", () => host.KafkaArchive?.RecordsGone ?? 0, "{record}",
                "Records of the result topics that Kafka's retention deleted before this node archived them.");
        }

        var kafka = host.KafkaMetrics;
        Counter("anomaly_actors_kafka_messages_consumed", () => kafka.MessagesConsumed, "{message}", "Messages consumed from the readings topic.");
        Counter("anomaly_actors_kafka_alerts_produced", () => kafka.AlertsProduced, "{message}", "Alerts produced to the alerts topic.");
        Counter("anomaly_actors_kafka_enriched_produced", () => kafka.EnrichedProduced, "{message}", "Enriched records produced to the enriched topic.");
        Counter("anomaly_actors_kafka_commits", () => kafka.CommitsDone, "{commit}", "Offset commits of the readings topic.");
        Counter("anomaly_actors_mqtt_messages", () => host.MqttCounters?.Messages ?? 0, "{message}", "MQTT messages taken by this node's ingestion.");
        Counter("anomaly_actors_mqtt_acknowledged", () => host.MqttCounters?.Acknowledged ?? 0, "{message}", "MQTT messages acknowledged once durable.");
    }

    /// <summary>
    /// Seconds from the reading that opened an episode (its own timestamp, so the devices' clocks
    /// count) to the alert written by the node's results sink, by site and metric.
    /// </summary>
    public static Histogram<double> AlertLatency(Meter meter) =>
        meter.CreateHistogram<double>("anomaly_actors_alert_latency_seconds", "s",
            "Seconds from the reading that opened an episode (its timestamp) to its alert written.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] });

    /// <summary>Dead letters of every source of the node (MQTT and Kafka) by reason; every reason present, zeros included.</summary>
    public static IReadOnlyDictionary<DeadLetterReason, long> DeadLettersByReason(AnomalyHost host)
    {
        var sum = Enum.GetValues<DeadLetterReason>().ToDictionary(r => r, _ => 0L);
        foreach (var counters in new[] { host.MqttCounters, host.Kafka?.Counters })
        {
            if (counters is null)
            {
                continue;
            }

            foreach (var (reason, count) in counters.DeadLettersByReason())
            {
                sum[reason] += count;
            }
        }

        sum[DeadLetterReason.WrongPartition] += host.Node.Metrics.ReadingsRefused;
        return sum;
    }
}
