using System.Globalization;
using System.Text;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Ingestion.Intake;
using Confluent.Kafka;

namespace AnomalyActors.Kafka;

/// <summary>
/// The MQTT-to-Kafka bridge (the front service of the global Kafka pipeline in
/// docs/reference-pipelines.md, which forwards device messages to the site's Kafka): an intake for the
/// MQTT source that publishes each parsed reading to the site's readings topic instead of the node's own
/// intake. A batch counts as durable (and its MQTT messages are acknowledged) once Kafka has every
/// reading. Readings go out normalised: key <c>sensors/&lt;site&gt;/&lt;device&gt;/&lt;metric&gt;</c> (the
/// default <c>value</c> format on the consuming side, and one partition per stream), the number as text,
/// the reading's time as the message timestamp.
/// </summary>
public sealed class KafkaBridgeIntake(KafkaOutputs outputs, TimeSpan timeout) : IReadingIntake
{
    public static Message<string?, byte[]> MessageFor(Reading reading)
    {
        var id = StreamId.Parse(reading.StreamKey);
        return new Message<string?, byte[]>
        {
            Key = string.Concat("sensors/", id.Site, "/", id.Device, "/", id.Metric),
            Value = Encoding.UTF8.GetBytes(reading.Value.ToString("R", CultureInfo.InvariantCulture)),
            Timestamp = new Timestamp(reading.TimestampMs, TimestampType.CreateTime),
        };
    }

    public async Task<(bool Durable, string? Failure)> IngestAsync(IngestReadings batch)
    {
        if (batch.Readings.Length == 0)
        {
            return (true, null);
        }

        var done = new TaskCompletionSource<(bool, string?)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var remaining = batch.Readings.Length;
        string? failure = null;
        void Delivered(DeliveryReport<string?, byte[]> report)
        {
            if (report.Error.IsError)
            {
                Interlocked.CompareExchange(ref failure, report.Error.Reason, null);
            }

            if (Interlocked.Decrement(ref remaining) == 0)
            {
                done.TrySetResult(failure is null ? (true, null) : (false, "Kafka refused a reading: " + failure));
            }
        }

        foreach (var reading in batch.Readings)
        {
            outputs.Produce(outputs.Settings.ReadingsTopic, MessageFor(reading), Delivered);
        }

        try
        {
            return await done.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Not acknowledged, so the batch comes again; readings Kafka did take meanwhile are then
            // in the topic twice (the bridge is at least once, like any MQTT QoS 1 hop).
            return (false, $"Kafka did not confirm the batch within {timeout.TotalSeconds:0.#} s");
        }
    }
}
