using Akka;
using Akka.Streams.Dsl;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Ingestion.DeadLetters;

namespace AnomalyActors.Ingestion.Intake;

/// <summary>
/// The stage every source shares: groups messages into batches (size or time, whichever first),
/// parses them, dead-letters what does not parse, makes the readings durable in the intake (a
/// rejected batch is retried with the same sequence number, so a retry is never stored twice), and
/// emits each batch in arrival order once that is done. Demand flows back to the source: at most
/// <see cref="IngestionSettings.MaxBatchesInFlight"/> batches wait for the intake at a time.
/// </summary>
public static class IngestFlow
{
    public static Flow<T, IngestedBatch<T>, NotUsed> Create<T>(
        string sourceId,
        IngestionSettings settings,
        IReadingIntake intake,
        IDeadLetterSink? deadLetters,
        IngestionCounters counters,
        Action<string>? warn = null,
        CancellationToken stopping = default)
        where T : IIngestMessage
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceId);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(intake);
        ArgumentNullException.ThrowIfNull(counters);
        var sequence = new SourceSequence();
        return Flow.Create<T>()
            .GroupedWithin(settings.BatchMaxMessages, settings.BatchMaxDelay)
            .Via(Flow.Create<IEnumerable<T>>().StatefulSelectMany<IEnumerable<T>, IEnumerable<T>, Prepared<T>, NotUsed>(() =>
            {
                // One decoder per materialisation: its parser caches topics and is not thread-safe.
                var decoder = new MessageDecoder(settings, counters);
                return messages => [Prepare(sourceId, sequence, decoder, messages, deadLetters, counters)];
            }))
            .SelectAsync(settings.MaxBatchesInFlight, prepared => DeliverAsync(prepared, intake, settings.RetryBackoff, counters, warn, stopping));
    }

    private static Prepared<T> Prepare<T>(
        string sourceId, SourceSequence sequence, MessageDecoder decoder, IEnumerable<T> batch, IDeadLetterSink? deadLetters, IngestionCounters counters)
        where T : IIngestMessage
    {
        var messages = batch as IReadOnlyList<T> ?? batch.ToList();
        var readings = new List<Reading>(messages.Count * 2);
        List<Delivery>? deliveries = null;
        var dead = 0;
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            var before = readings.Count;
            if (decoder.Decode(new SourceMessage(sourceId, -1, message.Topic, message.Payload, message.ArrivalMs, message.Publisher), readings) is { } deadLetter)
            {
                dead++;
                deadLetters?.Write(deadLetter);
            }

            var produced = readings.Count - before;
            if (message.Delivery is { } delivery)
            {
                if (deliveries is null)
                {
                    // Readings of earlier messages without a key are covered by keyless entries.
                    deliveries = new List<Delivery>(messages.Count);
                    if (before > 0)
                    {
                        deliveries.Add(new Delivery(default, false, before, 1));
                    }
                }

                if (produced > 0)
                {
                    deliveries.Add(new Delivery(delivery.Key, delivery.Resent, produced, delivery.Window));
                }
            }
            else if (deliveries is not null && produced > 0)
            {
                deliveries.Add(new Delivery(default, false, produced, 1));
            }
        }

        counters.AddMessages(messages.Count);
        var command = readings.Count == 0
            ? null
            : new IngestReadings(sourceId, sequence.Next(), readings.ToArray(), deliveries is null ? null : new DeliveryLog(deliveries.ToArray()));
        return new Prepared<T>(messages, command, dead);
    }

    private static async Task<IngestedBatch<T>> DeliverAsync<T>(
        Prepared<T> prepared, IReadingIntake intake, TimeSpan backoff, IngestionCounters counters, Action<string>? warn, CancellationToken stopping)
    {
        if (prepared.Command is { } command)
        {
            while (true)
            {
                var (durable, failure) = await intake.IngestAsync(command).ConfigureAwait(false);
                if (durable)
                {
                    counters.AddReadings(command.Readings.Length);
                    break;
                }

                // Not acknowledged to the source, so giving up here would only mean a redelivery
                // later; retrying keeps order and the sequence number makes it idempotent.
                warn?.Invoke($"Intake did not store batch {command.SourceSeq} of {command.SourceId} ({failure}); retrying in {backoff.TotalSeconds:0.#} s");
                await Task.Delay(backoff, stopping).ConfigureAwait(false);
            }
        }

        return new IngestedBatch<T>(prepared.Messages, prepared.Command?.Readings.Length ?? 0, prepared.DeadLetters);
    }

    private sealed record Prepared<T>(IReadOnlyList<T> Messages, IngestReadings? Command, int DeadLetters);
}
