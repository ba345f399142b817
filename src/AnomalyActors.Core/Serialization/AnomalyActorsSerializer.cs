using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Queries;
using AnomalyActors.Core.Results;
using AnomalyActors.Core.State;

namespace AnomalyActors.Core.Serialization;

/// <summary>
/// Binary serializer for every persisted and remotable message. Manifests are short and frozen:
/// they are stored in journals, so a manifest is never renamed or reused. Each payload starts with
/// a layout version byte so that a type can evolve while old rows stay readable.
/// </summary>
public sealed class AnomalyActorsSerializer : SerializerWithStringManifest
{
    public const int Id = 8421;

    private const byte V1 = 1;

    // Adds the message keys (DeliveryLog, ChunkDeliveries) to ChunkStored, IngestReadings and
    // AppendChunk; version 1 rows of those read as having none.
    private const byte V2 = 2;

    // Adds to each source mark of ChunkStored which batches below its highest are stored; v1 and
    // v2 rows read as having stored every one (what their high-water marks meant).
    private const byte V3 = 3;

    // Adds the global model version to EpisodeOpened and EpisodeClosed, and the model version and
    // the pending adoptions to SensorSnapshot; older rows read as having no model.
    private const byte V4 = 4;

    private static readonly Dictionary<Type, string> Manifests = new()
    {
        [typeof(ChunkStored)] = "rc",
        [typeof(EpisodeOpened)] = "eo",
        [typeof(EpisodeClosed)] = "ec",
        [typeof(SensorSnapshot)] = "ss",
        [typeof(ScoreReadings)] = "sr",
        [typeof(PassivateSensor)] = "st",
        [typeof(TrimIntake)] = "ti",
        [typeof(RedeliverReadings)] = "rd",
        [typeof(RedeliveryCompleted)] = "rk",
        [typeof(AlertWritten)] = "aw",
        [typeof(IngestReadings)] = "ir",
        [typeof(ReadingsAccepted)] = "ra",
        [typeof(ReadingsRejected)] = "rj",
        [typeof(AppendChunk)] = "ac",
        [typeof(ChunkAppended)] = "ca",
        [typeof(ChunkAppendFailed)] = "cf",
        [typeof(ReportCheckpoint)] = "cp",
        [typeof(GetSensorState)] = "gs",
        [typeof(SensorStateView)] = "sv",
        [typeof(GetPartitionStatus)] = "gp",
        [typeof(PartitionStatus)] = "ps",
        [typeof(DeliveryTableSnapshot)] = "dt",
        [typeof(CheckDelivery)] = "ck",
        [typeof(DeliveryConfirmed)] = "dc",
        [typeof(GetSiteStatus)] = "gq",
        [typeof(SiteStatus)] = "sq",
        [typeof(AlertAcknowledged)] = "ak",
        [typeof(DashboardGreeting)] = "dg",
        [typeof(WatchSeries)] = "ws",
        [typeof(SeriesPoints)] = "sp",
        [typeof(ModelAdopted)] = "ma",
    };

    public AnomalyActorsSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    public override int Identifier => Id;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType()} is not serializable by {nameof(AnomalyActorsSerializer)}.");

    public override byte[] ToBinary(object obj)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer))
        {
            w.Write(obj switch
            {
                EpisodeOpened or EpisodeClosed or SensorSnapshot => V4,
                ChunkStored => V3,
                IngestReadings or AppendChunk => V2,
                _ => V1,
            });
            Write(w, obj);
        }

        return buffer.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        using var r = new BinaryReader(new MemoryStream(bytes, writable: false));
        var version = r.ReadByte();
        if (version is not (V1 or V2 or V3 or V4))
        {
            throw new SerializationException($"Unknown layout version {version} for manifest '{manifest}'.");
        }

        return manifest switch
        {
            "rc" => new ChunkStored(r.ReadInt32(), r.ReadInt64(), ReadChunk(r), ReadMarks(r, withStoredBelow: version >= V3), version >= V2 ? ReadChunkDeliveries(r) : null),
            "eo" => new EpisodeOpened(r.ReadString(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadDouble(), r.ReadDouble(), version >= V4 ? r.ReadString() : string.Empty),
            "ec" => new EpisodeClosed(r.ReadString(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadDouble(), version >= V4 ? r.ReadString() : string.Empty),
            "ss" => new SensorSnapshot(
                r.ReadInt32(),
                r.ReadInt64(),
                r.ReadInt64(),
                r.ReadInt64(),
                r.ReadString(),
                ReadBytes(r),
                new EpisodeTrackerState(r.ReadInt64(), r.ReadBoolean(), r.ReadInt32(), r.ReadInt64(), r.ReadDouble()),
                version >= V4 ? r.ReadString() : string.Empty,
                version >= V4 ? ReadModelAdoptions(r) : []),
            "ma" => ReadModelAdopted(r),
            "sr" => ReadScoreReadings(r),
            "st" => PassivateSensor.Instance,
            "ti" => new TrimIntake(r.ReadInt32()),
            "rd" => new RedeliverReadings(r.ReadInt32(), r.ReadString(), r.ReadInt64()),
            "rk" => new RedeliveryCompleted(r.ReadString(), r.ReadInt32()),
            "aw" => new AlertWritten(r.ReadString()),
            "ir" => new IngestReadings(r.ReadString(), r.ReadInt64(), ReadReadings(r), version >= V2 ? ReadDeliveryLog(r) : null),
            "ra" => new ReadingsAccepted(r.ReadString(), r.ReadInt64(), r.ReadInt32()),
            "rj" => new ReadingsRejected(r.ReadString(), r.ReadInt64(), r.ReadString()),
            "ac" => new AppendChunk(r.ReadInt32(), r.ReadString(), r.ReadInt64(), ReadReadings(r), version >= V2 ? ReadDeliveryLog(r) : null),
            "dt" => ReadDeliveryTable(r),
            "ca" => new ChunkAppended(r.ReadInt32(), r.ReadString(), r.ReadInt64(), r.ReadBoolean()),
            "cf" => new ChunkAppendFailed(r.ReadInt32(), r.ReadString(), r.ReadInt64(), r.ReadString()),
            "cp" => new ReportCheckpoint(r.ReadInt32(), r.ReadString(), r.ReadInt64()),
            "ck" => new CheckDelivery(r.ReadString(), r.ReadInt32(), r.ReadInt64()),
            "dc" => new DeliveryConfirmed(r.ReadInt32(), r.ReadString(), r.ReadInt64()),
            "gs" => new GetSensorState(r.ReadString()),
            "sv" => new SensorStateView(r.ReadString(), r.ReadInt32(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadBoolean(), ReadBytes(r)),
            "gp" => new GetPartitionStatus(r.ReadInt32()),
            "gq" => new GetSiteStatus(),
            "sq" => ReadSiteStatus(r),
            "ak" => new AlertAcknowledged(r.ReadString(), r.ReadString(), r.ReadInt64()),
            "dg" => new DashboardGreeting(r.ReadBoolean()),
            "ws" => new WatchSeries(r.ReadString()),
            "sp" => ReadSeriesPoints(r),
            "ps" => new PartitionStatus(r.ReadInt32(), r.ReadInt64(), r.ReadInt32(), r.ReadInt64(), r.ReadInt32()),
            _ => throw new SerializationException($"Unknown manifest '{manifest}'."),
        };
    }

    private static ModelAdopted ReadModelAdopted(BinaryReader r) =>
        new(r.ReadString(), r.ReadInt64(), r.ReadString(), new Detection.DetectorPrior(r.ReadDouble(), r.ReadInt64()));

    private static void WriteModelAdopted(BinaryWriter w, ModelAdopted m)
    {
        w.Write(m.SensorId);
        w.Write(m.AfterOffset);
        w.Write(m.Version);
        w.Write(m.Prior.HalfWidth);
        w.Write(m.Prior.ArmAfter);
    }

    private static ModelAdopted[] ReadModelAdoptions(BinaryReader r)
    {
        var count = r.ReadInt32();
        if (count < 0 || count > r.BaseStream.Length / 26)
        {
            throw new SerializationException($"{count} model adoptions in {r.BaseStream.Length} bytes.");
        }

        var adoptions = new ModelAdopted[count];
        for (var i = 0; i < count; i++)
        {
            adoptions[i] = ReadModelAdopted(r);
        }

        return adoptions;
    }

    private static SeriesPoints ReadSeriesPoints(BinaryReader r)
    {
        var sensorId = r.ReadString();
        var count = r.ReadInt32();
        if (count < 0 || count > r.BaseStream.Length / 65)
        {
            throw new SerializationException($"Series of {count} points in {r.BaseStream.Length} bytes.");
        }

        var points = new ScoredReading[count];
        for (var i = 0; i < count; i++)
        {
            points[i] = new ScoredReading(r.ReadInt64(), r.ReadInt64(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadBoolean(), r.ReadInt64());
        }

        return new SeriesPoints(sensorId, points);
    }

    private static SiteStatus ReadSiteStatus(BinaryReader r)
    {
        var answeredBy = r.ReadString();
        var members = new MemberView[r.ReadInt32()];
        for (var i = 0; i < members.Length; i++)
        {
            members[i] = new MemberView(r.ReadString(), r.ReadString(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
        }

        return new SiteStatus(answeredBy, members, r.ReadInt64(), r.ReadInt64(), r.ReadInt64());
    }

    private static void Write(BinaryWriter w, object obj)
    {
        switch (obj)
        {
            case ChunkStored m:
                w.Write(m.PartitionId);
                w.Write(m.FirstOffset);
                WriteChunk(w, m.Chunk);
                WriteMarks(w, m.Sources);
                WriteChunkDeliveries(w, m.Deliveries);
                break;
            case WatchSeries m:
                w.Write(m.SensorId);
                break;
            case SeriesPoints m:
                w.Write(m.SensorId);
                w.Write(m.Points.Length);
                foreach (var p in m.Points)
                {
                    w.Write(p.Offset);
                    w.Write(p.TimestampMs);
                    w.Write(p.Value);
                    w.Write(p.Prediction);
                    w.Write(p.Low);
                    w.Write(p.High);
                    w.Write(p.Grade);
                    w.Write(p.OutOfBand);
                    w.Write(p.Episode);
                }

                break;
            case DashboardGreeting m:
                w.Write(m.Answer);
                break;
            case AlertAcknowledged m:
                w.Write(m.AlertId);
                w.Write(m.By);
                w.Write(m.AtMs);
                break;
            case EpisodeOpened m:
                w.Write(m.SensorId);
                w.Write(m.Episode);
                w.Write(m.Offset);
                w.Write(m.TimestampMs);
                w.Write(m.Value);
                w.Write(m.Grade);
                w.Write(m.Model);
                break;
            case EpisodeClosed m:
                w.Write(m.SensorId);
                w.Write(m.Episode);
                w.Write(m.Offset);
                w.Write(m.TimestampMs);
                w.Write(m.OutOfBandReadings);
                w.Write(m.PeakGrade);
                w.Write(m.Model);
                break;
            case ModelAdopted m:
                WriteModelAdopted(w, m);
                break;
            case SensorSnapshot m:
                w.Write(m.PartitionId);
                w.Write(m.Offset);
                w.Write(m.ReadingsScored);
                w.Write(m.ReadingsRejected);
                w.Write(m.DetectorFingerprint);
                WriteBytes(w, m.DetectorState);
                w.Write(m.Episodes.EpisodesOpened);
                w.Write(m.Episodes.IsOpen);
                w.Write(m.Episodes.InBandRun);
                w.Write(m.Episodes.OutOfBandInEpisode);
                w.Write(m.Episodes.PeakGrade);
                w.Write(m.ModelVersion);
                w.Write(m.PendingModels.Count);
                foreach (var pending in m.PendingModels)
                {
                    WriteModelAdopted(w, pending);
                }

                break;
            case ScoreReadings m:
                w.Write(m.SensorId);
                w.Write(m.PartitionId);
                w.Write(m.FirstOffset);
                w.Write(m.PreviousOffset);
                w.Write(m.Replay);
                w.Write7BitEncodedInt(m.Values.Length);
                WriteTimestamps(w, m.Timestamps.Span);
                w.Write(MemoryMarshal.AsBytes(m.Values.Span));
                // Trailing and optional: explicit offsets of an external log (Kafka).
                w.Write(!m.Offsets.IsEmpty);
                if (!m.Offsets.IsEmpty)
                {
                    WriteTimestamps(w, m.Offsets.Span);
                }

                break;
            case PassivateSensor:
                break;
            case TrimIntake m:
                w.Write(m.PartitionId);
                break;
            case RedeliverReadings m:
                w.Write(m.PartitionId);
                w.Write(m.SensorId);
                w.Write(m.FromOffset);
                break;
            case AlertWritten m:
                w.Write(m.AlertId);
                break;
            case GetSiteStatus:
                break;
            case SiteStatus m:
                w.Write(m.AnsweredBy);
                w.Write(m.Members.Count);
                foreach (var member in m.Members)
                {
                    w.Write(member.Address);
                    w.Write(member.Status);
                    w.Write(member.SensorShards);
                    w.Write(member.Sensors);
                    w.Write(member.IntakePartitions);
                }

                w.Write(m.SensorsBehind);
                w.Write(m.ReadingsRetained);
                w.Write(m.ReadingsStored);
                break;
            case CheckDelivery m:
                w.Write(m.SensorId);
                w.Write(m.PartitionId);
                w.Write(m.LastOffset);
                break;
            case DeliveryConfirmed m:
                w.Write(m.PartitionId);
                w.Write(m.SensorId);
                w.Write(m.Offset);
                break;
            case RedeliveryCompleted m:
                w.Write(m.SensorId);
                w.Write(m.PartitionId);
                break;
            case IngestReadings m:
                w.Write(m.SourceId);
                w.Write(m.SourceSeq);
                WriteReadings(w, m.Readings);
                WriteDeliveryLog(w, m.Deliveries);
                break;
            case ReadingsAccepted m:
                w.Write(m.SourceId);
                w.Write(m.SourceSeq);
                w.Write(m.Count);
                break;
            case ReadingsRejected m:
                w.Write(m.SourceId);
                w.Write(m.SourceSeq);
                w.Write(m.Reason);
                break;
            case AppendChunk m:
                w.Write(m.PartitionId);
                w.Write(m.SourceId);
                w.Write(m.SourceSeq);
                WriteReadings(w, m.Readings);
                WriteDeliveryLog(w, m.Deliveries);
                break;
            case DeliveryTableSnapshot m:
                WriteDeliveryTable(w, m);
                break;
            case ChunkAppended m:
                w.Write(m.PartitionId);
                w.Write(m.SourceId);
                w.Write(m.SourceSeq);
                w.Write(m.Duplicate);
                break;
            case ChunkAppendFailed m:
                w.Write(m.PartitionId);
                w.Write(m.SourceId);
                w.Write(m.SourceSeq);
                w.Write(m.Reason);
                break;
            case ReportCheckpoint m:
                w.Write(m.PartitionId);
                w.Write(m.SensorId);
                w.Write(m.Offset);
                break;
            case GetSensorState m:
                w.Write(m.SensorId);
                break;
            case SensorStateView m:
                w.Write(m.SensorId);
                w.Write(m.PartitionId);
                w.Write(m.Offset);
                w.Write(m.ReadingsScored);
                w.Write(m.EpisodesOpened);
                w.Write(m.EpisodeOpen);
                WriteBytes(w, m.DetectorState);
                break;
            case GetPartitionStatus m:
                w.Write(m.PartitionId);
                break;
            case PartitionStatus m:
                w.Write(m.PartitionId);
                w.Write(m.NextOffset);
                w.Write(m.RetainedChunks);
                w.Write(m.OldestRetainedOffset);
                w.Write(m.SensorsBehind);
                break;
            default:
                throw new ArgumentException($"{obj.GetType()} is not serializable by {nameof(AnomalyActorsSerializer)}.");
        }
    }

    // Chunks dominate journal volume: timestamps go as zig-zag varint deltas within a stream's group
    // (usually one or two bytes), values as raw IEEE doubles so that replay is bit-exact.
    private static void WriteChunk(BinaryWriter w, ReadingChunk chunk)
    {
        if (chunk.Offsets is not null)
        {
            // Only the intake's chunks are stored, and their offsets follow from the position.
            throw new ArgumentException("A chunk with explicit offsets is not stored.", nameof(chunk));
        }

        w.Write7BitEncodedInt(chunk.Keys.Length);
        w.Write7BitEncodedInt(chunk.Count);
        for (var g = 0; g < chunk.Keys.Length; g++)
        {
            w.Write(chunk.Keys[g]);
            var start = chunk.GroupStarts[g];
            var length = chunk.GroupStarts[g + 1] - start;
            w.Write7BitEncodedInt(length);
            WriteTimestamps(w, chunk.Timestamps.AsSpan(start, length));
        }

        w.Write(MemoryMarshal.AsBytes(chunk.Values.AsSpan()));
    }

    private static ReadingChunk ReadChunk(BinaryReader r)
    {
        var groups = r.Read7BitEncodedInt();
        var count = r.Read7BitEncodedInt();
        var keys = new string[groups];
        var starts = new int[groups + 1];
        var timestamps = new long[count];
        for (var g = 0; g < groups; g++)
        {
            keys[g] = r.ReadString();
            var length = r.Read7BitEncodedInt();
            starts[g + 1] = starts[g] + length;
            ReadTimestamps(r, timestamps.AsSpan(starts[g], length));
        }

        var values = new double[count];
        r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
        return new ReadingChunk(keys, starts, timestamps, values);
    }

    private static ScoreReadings ReadScoreReadings(BinaryReader r)
    {
        var sensorId = r.ReadString();
        var partitionId = r.ReadInt32();
        var firstOffset = r.ReadInt64();
        var previousOffset = r.ReadInt64();
        var replay = r.ReadBoolean();
        var count = r.Read7BitEncodedInt();
        var timestamps = new long[count];
        ReadTimestamps(r, timestamps);
        var values = new double[count];
        r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
        long[]? offsets = null;
        if (r.ReadBoolean())
        {
            offsets = new long[count];
            ReadTimestamps(r, offsets);
        }

        return new ScoreReadings(sensorId, partitionId, firstOffset, previousOffset, timestamps, values, replay, offsets);
    }

    private static void WriteTimestamps(BinaryWriter w, ReadOnlySpan<long> timestamps)
    {
        long previous = 0;
        foreach (var timestamp in timestamps)
        {
            var delta = timestamp - previous;
            w.Write7BitEncodedInt64((delta << 1) ^ (delta >> 63));
            previous = timestamp;
        }
    }

    private static void ReadTimestamps(BinaryReader r, Span<long> into)
    {
        long previous = 0;
        for (var i = 0; i < into.Length; i++)
        {
            var zigzag = (ulong)r.Read7BitEncodedInt64();
            var delta = (long)(zigzag >> 1) ^ -(long)(zigzag & 1);
            previous += delta;
            into[i] = previous;
        }
    }

    private static void WriteMarks(BinaryWriter w, SourceMark[] marks)
    {
        w.Write7BitEncodedInt(marks.Length);
        foreach (var mark in marks)
        {
            w.Write(mark.SourceId);
            w.Write(mark.SourceSeq);
            w.Write(mark.StoredBelow);
        }
    }

    private static SourceMark[] ReadMarks(BinaryReader r, bool withStoredBelow)
    {
        var marks = new SourceMark[r.Read7BitEncodedInt()];
        for (var i = 0; i < marks.Length; i++)
        {
            marks[i] = withStoredBelow
                ? new SourceMark(r.ReadString(), r.ReadInt64(), r.ReadUInt64())
                : new SourceMark(r.ReadString(), r.ReadInt64());
        }

        return marks;
    }

    private static void WriteReadings(BinaryWriter w, Reading[] readings)
    {
        w.Write7BitEncodedInt(readings.Length);
        foreach (var reading in readings)
        {
            w.Write(reading.StreamKey);
            w.Write(reading.TimestampMs);
            w.Write(reading.Value);
        }
    }

    private static Reading[] ReadReadings(BinaryReader r)
    {
        var readings = new Reading[r.Read7BitEncodedInt()];
        for (var i = 0; i < readings.Length; i++)
        {
            readings[i] = new Reading(r.ReadString(), r.ReadInt64(), r.ReadDouble());
        }

        return readings;
    }

    // Message keys: each distinct session name once, then per key its session's index (0 = no key).
    private static void WriteDeliveryLog(BinaryWriter w, DeliveryLog? log)
    {
        w.Write(log is not null);
        if (log is null)
        {
            return;
        }

        var sessions = WriteSessions(w, log.Items.Select(i => i.Key.Session));
        w.Write7BitEncodedInt(log.Items.Length);
        foreach (var item in log.Items)
        {
            WriteKey(w, sessions, item.Key);
            w.Write(item.Resent);
            w.Write7BitEncodedInt(item.ReadingCount);
            w.Write7BitEncodedInt(item.Window);
        }
    }

    private static DeliveryLog? ReadDeliveryLog(BinaryReader r)
    {
        if (!r.ReadBoolean())
        {
            return null;
        }

        var sessions = ReadSessions(r);
        var items = new Delivery[r.Read7BitEncodedInt()];
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = new Delivery(ReadKey(r, sessions), r.ReadBoolean(), r.Read7BitEncodedInt(), r.Read7BitEncodedInt());
        }

        return new DeliveryLog(items);
    }

    private static void WriteChunkDeliveries(BinaryWriter w, ChunkDeliveries? deliveries)
    {
        w.Write(deliveries is not null);
        if (deliveries is null)
        {
            return;
        }

        var sessions = WriteSessions(w, deliveries.Keys.Select(k => k.Session));
        w.Write7BitEncodedInt(deliveries.Keys.Length);
        for (var i = 0; i < deliveries.Keys.Length; i++)
        {
            WriteKey(w, sessions, deliveries.Keys[i]);
            w.Write7BitEncodedInt(deliveries.Windows[i]);
        }
    }

    private static ChunkDeliveries? ReadChunkDeliveries(BinaryReader r)
    {
        if (!r.ReadBoolean())
        {
            return null;
        }

        var sessions = ReadSessions(r);
        var keys = new DeliveryKey[r.Read7BitEncodedInt()];
        var windows = new int[keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = ReadKey(r, sessions);
            windows[i] = r.Read7BitEncodedInt();
        }

        return new ChunkDeliveries(keys, windows);
    }

    private static Dictionary<string, int> WriteSessions(BinaryWriter w, IEnumerable<string?> names)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (name is not null && !index.ContainsKey(name))
            {
                index[name] = index.Count + 1;
            }
        }

        w.Write7BitEncodedInt(index.Count);
        foreach (var name in index.Keys)
        {
            w.Write(name);
        }

        return index;
    }

    private static string[] ReadSessions(BinaryReader r)
    {
        var names = new string[r.Read7BitEncodedInt()];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = r.ReadString();
        }

        return names;
    }

    private static void WriteKey(BinaryWriter w, Dictionary<string, int> sessions, DeliveryKey key)
    {
        if (key.Session is null)
        {
            w.Write7BitEncodedInt(0);
            return;
        }

        w.Write7BitEncodedInt(sessions[key.Session]);
        w.Write(key.PacketId);
        w.Write(key.ContentHash);
    }

    private static DeliveryKey ReadKey(BinaryReader r, string[] sessions)
    {
        var session = r.Read7BitEncodedInt();
        return session == 0 ? default : new DeliveryKey(sessions[session - 1], r.ReadUInt16(), r.ReadUInt64());
    }

    private static void WriteDeliveryTable(BinaryWriter w, DeliveryTableSnapshot table)
    {
        w.Write7BitEncodedInt(table.Sessions.Length);
        foreach (var session in table.Sessions)
        {
            w.Write(session.Session);
            w.Write7BitEncodedInt(session.Window);
            w.Write7BitEncodedInt(session.PacketIds.Length);
            w.Write(MemoryMarshal.AsBytes(session.PacketIds.AsSpan()));
            w.Write(MemoryMarshal.AsBytes(session.Hashes.AsSpan()));
        }
    }

    private static DeliveryTableSnapshot ReadDeliveryTable(BinaryReader r)
    {
        var sessions = new SessionDeliveries[r.Read7BitEncodedInt()];
        for (var i = 0; i < sessions.Length; i++)
        {
            var name = r.ReadString();
            var window = r.Read7BitEncodedInt();
            var count = r.Read7BitEncodedInt();
            var ids = new ushort[count];
            var hashes = new ulong[count];
            r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(ids.AsSpan()));
            r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(hashes.AsSpan()));
            sessions[i] = new SessionDeliveries(name, window, ids, hashes);
        }

        return new DeliveryTableSnapshot(sessions);
    }

    private static void WriteBytes(BinaryWriter w, byte[] bytes)
    {
        w.Write7BitEncodedInt(bytes.Length);
        w.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader r) => r.ReadBytes(r.Read7BitEncodedInt());
}
