using System.Text;
using Akka.Actor;
using Akka.Event;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Results;
using AnomalyActors.Node.Settings;

namespace AnomalyActors.Node.Outputs;

/// <summary>
/// The node's own results sink: episode opens and closes on the console and appended to a JSON-lines
/// file, refused readings to the dead-letter file, and with an archive, alerts recorded for it (the
/// sensors record their scored readings there themselves). An alert is confirmed to its sensor once
/// it is in the file (or printed, without one) and recorded; after a crash a repeat carries the same
/// alert id.
/// </summary>
public sealed class FileResultsActor : ReceiveActor
{
    private readonly AlertSettings _settings;
    private readonly string _site;
    private readonly IDeadLetterSink? _deadLetters;
    private readonly IResultsArchive? _archive;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private StreamWriter? _file;

    private readonly NodeMetrics _metrics;

    /// <param name="site">The site written into every alert as its origin.</param>
    public FileResultsActor(AlertSettings settings, string site, IDeadLetterSink? deadLetters, NodeMetrics metrics, IResultsArchive? archive = null)
    {
        _settings = settings;
        _site = site;
        _deadLetters = deadLetters;
        _metrics = metrics;
        _archive = archive;
        Receive<IEpisodeEvent>(Write);
        Receive<RefusedReadings>(Refuse);
        // This sink keeps no enriched record; the wiring sends none, but a confirmation never hurts.
        Receive<PublishScored>(scored => Sender.Tell(new EnrichedWritten(scored.SensorId, scored.Readings.Length)));
    }

    protected override void PreStart()
    {
        if (_settings.FilePath is { } path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            _metrics.AlertLinesFound(JsonLines.Count(path));
            _file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false))
            {
                AutoFlush = true,
            };
        }
    }

    protected override void PostStop() => _file?.Dispose();

    private void Write(IEpisodeEvent alert)
    {
        if (_settings.Console)
        {
            Console.WriteLine(ResultRecords.Describe(alert));
        }

        if (_file is not null)
        {
            try
            {
                _file.WriteLine(ResultRecords.AlertJson(alert, _site));
                _metrics.AlertLineWritten();
            }
            catch (IOException e)
            {
                // Unconfirmed, so the sensor keeps the alert uncovered by snapshots and a restart
                // sends it again.
                _log.Error(e, "Could not append alert {0} to {1}", alert.AlertId, _settings.FilePath);
                return;
            }
        }

        if (_archive is not null)
        {
            try
            {
                _archive.Record(alert);
                _archive.Flush();
            }
            catch (IOException e)
            {
                _log.Error(e, "Could not record alert {0} for the archive", alert.AlertId);
                return;
            }
        }

        Sender.Tell(new AlertWritten(alert.AlertId));
        Context.System.EventStream.Publish(new AlertDelivered(alert));
    }

    private void Refuse(RefusedReadings refused)
    {
        _deadLetters?.Write(ResultRecords.RefusedDeadLetter(refused, "intake", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
    }

    public static Props Props(AlertSettings settings, string site, IDeadLetterSink? deadLetters, NodeMetrics metrics, IResultsArchive? archive = null) =>
        Akka.Actor.Props.Create(() => new FileResultsActor(settings, site, deadLetters, metrics, archive));
}
