using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Results;
using AnomalyActors.Core.State;

namespace AnomalyActors.Archive.Collecting;

/// <summary>
/// Result records in the node's result log: a compact binary form of a scored reading or an
/// episode transition, read back as archive rows. The first byte is the record's layout, so a log
/// written by an older version stays readable.
/// </summary>
public static class ResultCodec
{
    private const byte EnrichedV1 = 1;
    private const byte AlertV1 = 2;

    // V1 and the global model version as a last text.
    private const byte EnrichedV2 = 3;
    private const byte AlertV2 = 4;

    // Kind, then time, offset, episode, five numbers, the flag, two texts with their lengths.
    private const int EnrichedFixedBytes = 1 + 3 * 8 + 5 * 8 + 1 + 2 + 2;
    private const int AlertFixedBytes = 1 + 1 + 3 * 8 + 2 * 8 + 2;

    // A model version's text with its length (versions are at most 64 ASCII characters).
    private const int ModelBytes = 2 + 64;

    /// <summary>Writes one scored reading of <paramref name="streamKey"/>; returns the bytes used.</summary>
    public static int WriteEnriched(Span<byte> into, string streamKey, string detector, in ScoredReading reading)
    {
        into[0] = EnrichedV2;
        BinaryPrimitives.WriteInt64LittleEndian(into[1..], reading.TimestampMs);
        BinaryPrimitives.WriteInt64LittleEndian(into[9..], reading.Offset);
        BinaryPrimitives.WriteInt64LittleEndian(into[17..], reading.Episode);
        BinaryPrimitives.WriteDoubleLittleEndian(into[25..], reading.Value);
        BinaryPrimitives.WriteDoubleLittleEndian(into[33..], reading.Prediction);
        BinaryPrimitives.WriteDoubleLittleEndian(into[41..], reading.Low);
        BinaryPrimitives.WriteDoubleLittleEndian(into[49..], reading.High);
        BinaryPrimitives.WriteDoubleLittleEndian(into[57..], reading.Grade);
        into[65] = reading.OutOfBand ? (byte)1 : (byte)0;
        var at = 66;
        at += WriteText(into[at..], streamKey);
        at += WriteText(into[at..], detector);
        at += WriteText(into[at..], reading.Model ?? string.Empty);
        return at;
    }

    /// <summary>The bytes <see cref="WriteEnriched"/> needs at most.</summary>
    public static int MaxEnrichedBytes(string streamKey, string detector) =>
        EnrichedFixedBytes + Encoding.UTF8.GetMaxByteCount(streamKey.Length) + Encoding.UTF8.GetMaxByteCount(detector.Length) + ModelBytes;

    public static int MaxAlertBytes(IEpisodeEvent alert) => AlertFixedBytes + Encoding.UTF8.GetMaxByteCount(alert.SensorId.Length) + 2 + Encoding.UTF8.GetMaxByteCount(alert.Model.Length);

    public static int WriteAlert(Span<byte> into, IEpisodeEvent alert)
    {
        into[0] = AlertV2;
        into[1] = alert is EpisodeOpened ? (byte)1 : (byte)2;
        BinaryPrimitives.WriteInt64LittleEndian(into[10..], alert.Offset);
        BinaryPrimitives.WriteInt64LittleEndian(into[18..], alert.Episode);
        switch (alert)
        {
            case EpisodeOpened o:
                BinaryPrimitives.WriteInt64LittleEndian(into[2..], o.TimestampMs);
                BinaryPrimitives.WriteDoubleLittleEndian(into[26..], o.Value);
                BinaryPrimitives.WriteDoubleLittleEndian(into[34..], o.Grade);
                break;
            case EpisodeClosed c:
                BinaryPrimitives.WriteInt64LittleEndian(into[2..], c.TimestampMs);
                BinaryPrimitives.WriteInt64LittleEndian(into[26..], c.OutOfBandReadings);
                BinaryPrimitives.WriteDoubleLittleEndian(into[34..], c.PeakGrade);
                break;
            default:
                throw new ArgumentException($"Unknown episode event {alert.GetType().Name}.", nameof(alert));
        }

        var at = 42 + WriteText(into[42..], alert.SensorId);
        return at + WriteText(into[at..], alert.Model);
    }

    /// <summary>Reads a record written by <see cref="WriteEnriched"/>.</summary>
    public static EnrichedRow ReadEnriched(ReadOnlySpan<byte> from, StreamNames names)
    {
        if (from.Length < EnrichedFixedBytes || from[0] is not (EnrichedV1 or EnrichedV2))
        {
            throw new InvalidDataException($"Not an enriched record (layout {(from.Length > 0 ? from[0] : -1)}, {from.Length} bytes).");
        }

        var at = 66;
        var stream = names.Of(TextBytes(from, ref at));
        var detector = names.Intern(TextBytes(from, ref at));
        var model = from[0] == EnrichedV2 ? ModelOf(TextBytes(from, ref at), names) : null;
        var episode = BinaryPrimitives.ReadInt64LittleEndian(from[17..]);
        return new EnrichedRow(
            BinaryPrimitives.ReadInt64LittleEndian(from[1..]),
            stream.Site,
            stream.Device,
            stream.Metric,
            BinaryPrimitives.ReadDoubleLittleEndian(from[25..]),
            BinaryPrimitives.ReadDoubleLittleEndian(from[33..]),
            BinaryPrimitives.ReadDoubleLittleEndian(from[41..]),
            BinaryPrimitives.ReadDoubleLittleEndian(from[49..]),
            BinaryPrimitives.ReadDoubleLittleEndian(from[57..]),
            from[65] != 0,
            episode > 0 ? AlertIds.For(stream.Key, episode) : null,
            BinaryPrimitives.ReadInt64LittleEndian(from[9..]),
            detector,
            model);
    }

    private static string? ModelOf(ReadOnlySpan<byte> utf8, StreamNames names) => utf8.IsEmpty ? null : names.Intern(utf8);

    /// <summary>Reads a record written by <see cref="WriteAlert"/>.</summary>
    public static AlertRow ReadAlert(ReadOnlySpan<byte> from, StreamNames names)
    {
        if (from.Length < AlertFixedBytes || from[0] is not (AlertV1 or AlertV2))
        {
            throw new InvalidDataException($"Not an alert record (layout {(from.Length > 0 ? from[0] : -1)}, {from.Length} bytes).");
        }

        var at = 42;
        var stream = names.Of(TextBytes(from, ref at));
        var model = from[0] == AlertV2 ? ModelOf(TextBytes(from, ref at), names) : null;
        var open = from[1] == 1;
        var episode = BinaryPrimitives.ReadInt64LittleEndian(from[18..]);
        var grade = BinaryPrimitives.ReadDoubleLittleEndian(from[34..]);
        return new AlertRow(
            BinaryPrimitives.ReadInt64LittleEndian(from[2..]),
            stream.Site,
            stream.Device,
            stream.Metric,
            AlertIds.For(stream.Key, episode),
            open ? ResultRecords.Open : ResultRecords.Close,
            open ? ResultRecords.Severity(grade) : "cleared",
            episode,
            BinaryPrimitives.ReadInt64LittleEndian(from[10..]),
            open ? BinaryPrimitives.ReadDoubleLittleEndian(from[26..]) : double.NaN,
            grade,
            open ? -1 : BinaryPrimitives.ReadInt64LittleEndian(from[26..]),
            model);
    }

    private static int WriteText(Span<byte> into, string text)
    {
        var length = Encoding.UTF8.GetBytes(text, into[2..]);
        if (length > ushort.MaxValue)
        {
            throw new ArgumentException("A text of a result record has at most 65535 bytes.", nameof(text));
        }

        BinaryPrimitives.WriteUInt16LittleEndian(into, (ushort)length);
        return 2 + length;
    }

    private static ReadOnlySpan<byte> TextBytes(ReadOnlySpan<byte> from, ref int at)
    {
        int length = BinaryPrimitives.ReadUInt16LittleEndian(from[at..]);
        var text = from.Slice(at + 2, length);
        at += 2 + length;
        return text;
    }
}

/// <summary>
/// Stream keys split into their parts once, and other texts shared, for rows read in bulk: a known
/// text is found by its UTF-8 bytes, without decoding them or making a string.
/// </summary>
public sealed class StreamNames
{
    private const int Limit = 200_000;
    private readonly Dictionary<byte[], StreamId> _streams = new(Utf8Keys.Instance);
    private readonly Dictionary<byte[], string> _texts = new(Utf8Keys.Instance);

    public StreamId Of(ReadOnlySpan<byte> key) => Find(_streams, key, StreamId.Parse);

    public string Intern(ReadOnlySpan<byte> utf8) => Find(_texts, utf8, text => text);

    private static TValue Find<TValue>(Dictionary<byte[], TValue> known, ReadOnlySpan<byte> utf8, Func<string, TValue> create)
    {
        if (known.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(utf8, out var value))
        {
            return value;
        }

        if (known.Count >= Limit)
        {
            known.Clear();
        }

        value = create(Encoding.UTF8.GetString(utf8));
        known[utf8.ToArray()] = value;
        return value;
    }

    /// <summary>
    /// Byte keys compared by content and hashed with a seed of this process, so that device names
    /// chosen to collide cannot turn the lookups quadratic.
    /// </summary>
    private sealed class Utf8Keys : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly Utf8Keys Instance = new();

        private readonly long _seed = Random.Shared.NextInt64();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] key) => GetHashCode((ReadOnlySpan<byte>)key);

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate) => (int)XxHash3.HashToUInt64(alternate, _seed);

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
