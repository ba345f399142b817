using System.Runtime.Serialization;
using Akka.Configuration;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Queries;
using AnomalyActors.Core.Results;
using AnomalyActors.Core.Serialization;
using AnomalyActors.Core.State;
using AnomalyActors.Detection;
using Xunit;

namespace AnomalyActors.Core.Tests;

public sealed class AnomalyActorsSerializerSpecs : Akka.TestKit.Xunit2.TestKit
{
    /// <summary>
    /// Frozen: these strings are stored in journals next to every event and snapshot. A failure here
    /// means a manifest was renamed or a type was added without pinning its manifest.
    /// </summary>
    private static readonly Dictionary<Type, string> PinnedManifests = new()
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

    private static readonly Dictionary<string, Func<object>> Samples = new()
    {
        ["rc"] = () => RichChunkStored(),
        ["eo"] = () => new EpisodeOpened("site-1/dev-A/temp", 3, 1_234, -5, -0.0, 0.75, "20261207T051500Z-3f2a1b2c"),
        ["ec"] = () => new EpisodeClosed("site-1/dev-A/temp", 3, 1_300, long.MinValue, long.MaxValue, double.Epsilon),
        ["ss"] = () => new SensorSnapshot(7, 1_234, 1_200, 34, "ewma(alpha=0.04)|thr(min=1)", [1, 0, 255, 128], new EpisodeTrackerState(5, true, 2, 17, 0.9375),
            "m-1", new[] { new ModelAdopted("site-1/dev-A/temp", 1_240, "m-2", new DetectorPrior(18.5, 20)), new ModelAdopted("site-1/dev-A/temp", 1_300, "m-3", DetectorPrior.None) }),
        ["ma"] = () => new ModelAdopted("site-1/dev-A/temp", -1, "20261207T051500Z-3f2a1b2c", new DetectorPrior(double.Epsilon, long.MaxValue)),
        ["sr"] = () => new ScoreReadings(
            "site-1/dev-A/temp",
            4,
            99,
            95,
            new long[] { 0, 10, 20, -7, 5 }.AsMemory(1, 3),
            new[] { 9.0, -0.0, 1e-310, double.MaxValue, 1.0 }.AsMemory(1, 3),
            Replay: true),
        ["st"] = () => PassivateSensor.Instance,
        ["ti"] = () => new TrimIntake(12),
        ["rd"] = () => new RedeliverReadings(2, "site-1/dev-A/temp", 1_234),
        ["rk"] = () => new RedeliveryCompleted("site-1/dev-A/temp", 2),
        ["aw"] = () => new AlertWritten("site-1/dev-A/temp#3"),
        ["ir"] = () => new IngestReadings("mqtt-1", 42, [new Reading("a/b/c", -1, -0.0), new Reading("a/b/d", long.MaxValue, 1e300), new Reading("a/b/e", 0, 1)],
            new DeliveryLog([new Delivery(default, false, 1, 1), new Delivery(new DeliveryKey("mqtt:ü", 65535, ulong.MaxValue), true, 2, 65535)])),
        ["ra"] = () => new ReadingsAccepted("mqtt-1", 42, 2),
        ["rj"] = () => new ReadingsRejected("mqtt-1", 43, "journal unavailable: ünïcødé 𝄞"),
        ["ac"] = () => new AppendChunk(3, "mqtt-1", 44, [new Reading("a/b/c", 1, 2.5), new Reading("a/b/c", 0, double.Epsilon)],
            new DeliveryLog([new Delivery(new DeliveryKey("s1", 0, 0), false, 1, 100), new Delivery(new DeliveryKey("s2", 1, 2), false, 1, 100)])),
        ["ca"] = () => new ChunkAppended(3, "mqtt-1", 44, Duplicate: true),
        ["cf"] = () => new ChunkAppendFailed(3, "mqtt-1", 45, "timeout"),
        ["cp"] = () => new ReportCheckpoint(3, "a/b/c", 1_000_000_000_000),
        ["ck"] = () => new CheckDelivery("a/b/c", 5, long.MaxValue),
        ["dc"] = () => new DeliveryConfirmed(5, "a/b/ü", -1),
        ["gs"] = () => new GetSensorState("a/b/c"),
        ["sv"] = () => new SensorStateView("a/b/c", 3, 77, 70, 2, true, [9, 8, 7]),
        ["gp"] = () => new GetPartitionStatus(3),
        ["ps"] = () => new PartitionStatus(3, 1_000, 4, 900, 12),
        ["gq"] = () => new GetSiteStatus(),
        ["ak"] = () => new AlertAcknowledged("site-1/dev-A/temp#3", "ünïcødé operator", long.MinValue),
        ["dg"] = () => new DashboardGreeting(Answer: true),
        ["ws"] = () => new WatchSeries("site-1/dev-A/temp"),
        ["sp"] = () => new SeriesPoints("site-1/dev-A/temp", [new ScoredReading(5, -1, double.NaN, -0.0, double.NegativeInfinity, double.MaxValue, 0.97, true, long.MaxValue), default(ScoredReading) with { Model = "" }]), // series points leave the model out
        ["sq"] = () => new SiteStatus(
            "akka.tcp://anomaly-actors@127.0.0.1:4053",
            new[] { new MemberView("akka.tcp://anomaly-actors@127.0.0.1:4053", "Up", 34, 3_300, 3), new MemberView("akka.tcp://anomaly-actors@[::1]:4054", "Up, unreachable", 0, 0, 0) },
            12,
            long.MaxValue,
            0),
        ["dt"] = () => new DeliveryTableSnapshot(
        [
            new SessionDeliveries("mqtt-client:dev-1", 100, [1, 65535, 0], [0, ulong.MaxValue, 12_345_678_901_234]),
            new SessionDeliveries("mqtt:ü", 1, [], []),
        ]),
    };

    public AnomalyActorsSerializerSpecs()
        : base(NodeBindingConfig())
    {
    }

    public static TheoryData<string> Manifests => new(PinnedManifests.Values);

    [Theory]
    [MemberData(nameof(Manifests))]
    public void Should_be_the_serializer_the_node_binding_picks_for_every_message_type(string manifest)
    {
        // Arrange
        var message = Samples[manifest]();

        // Act
        var serializer = Sys.Serialization.FindSerializerFor(message);

        // Assert
        var ours = Assert.IsType<AnomalyActorsSerializer>(serializer);
        Assert.Equal(AnomalyActorsSerializer.Id, ours.Identifier);
        Assert.Equal(manifest, ours.Manifest(message));
        Assert.Equal(manifest, Akka.Serialization.Serialization.ManifestFor(serializer, message));
    }

    [Fact]
    public void Should_pin_the_manifest_of_every_message_type()
    {
        // Arrange
        var serializer = Serializer();
        var messageTypes = typeof(IAnomalyActorsMessage).Assembly.GetTypes()
            .Where(t => typeof(IAnomalyActorsMessage).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .OrderBy(t => t.FullName)
            .ToArray();

        // Act
        var actual = PinnedManifests.Keys.ToDictionary(t => t, t => serializer.Manifest(Samples[PinnedManifests[t]]()));

        // Assert
        Assert.Equal(PinnedManifests, actual);
        Assert.Equal(messageTypes, PinnedManifests.Keys.OrderBy(t => t.FullName).ToArray());
        Assert.Equal(PinnedManifests.Count, PinnedManifests.Values.Distinct(StringComparer.Ordinal).Count());
        Assert.All(PinnedManifests.Values, m => Assert.Equal(2, m.Length));
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public void Should_round_trip_every_message_type_by_content(string manifest)
    {
        // Arrange
        var message = Samples[manifest]();
        var serializer = Sys.Serialization.FindSerializerFor(message);

        // Act
        var bytes = serializer.ToBinary(message);
        var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);

        // Assert
        ContentAssert.Equal(message, back);
    }

    [Fact]
    public void Should_round_trip_a_slice_with_explicit_external_log_offsets()
    {
        // Arrange
        var slice = new ScoreReadings(
            "site-1/dev-A/temp",
            2,
            ExternalOffsets.Compose(40, 0),
            ExternalOffsets.Compose(12, 3),
            new long[] { 5, 6, 7 },
            new[] { 1.5, -2.0, 3.25 },
            Replay: false,
            Offsets: new[] { ExternalOffsets.Compose(40, 0), ExternalOffsets.Compose(41, 2), ExternalOffsets.Compose(1_000_000, 1023) });
        var serializer = Sys.Serialization.FindSerializerFor(slice);

        // Act
        var back = (ScoreReadings)Sys.Serialization.Deserialize(serializer.ToBinary(slice), serializer.Identifier, "sr");

        // Assert
        ContentAssert.Equal(slice, back);
        Assert.Equal(slice.Offsets.ToArray(), back.Offsets.ToArray());
        Assert.Equal(ExternalOffsets.Compose(1_000_000, 1023), back.LastOffset);
    }

    [Fact]
    public void Should_keep_the_passivation_message_a_singleton()
    {
        // Arrange
        var serializer = Serializer();

        // Act
        var back = serializer.FromBinary(serializer.ToBinary(PassivateSensor.Instance), "st");

        // Assert
        Assert.Same(PassivateSensor.Instance, back);
    }

    [Fact]
    public void Should_round_trip_a_chunk_with_several_groups_bit_exactly()
    {
        // Arrange
        var serializer = Serializer();
        var stored = RichChunkStored();

        // Act
        var back = Assert.IsType<ChunkStored>(serializer.FromBinary(serializer.ToBinary(stored), "rc"));

        // Assert
        ContentAssert.Equal(stored, back);
        Assert.Equal(stored.NextOffset, back.NextOffset);
        Assert.Equal(
            stored.Chunk.Values.Select(BitConverter.DoubleToInt64Bits),
            back.Chunk.Values.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void Should_round_trip_a_large_random_chunk_bit_exactly()
    {
        // Arrange
        var random = new Random(20240611);
        var readings = new List<Reading>();
        for (var i = 0; i < 2_000; i++)
        {
            double value;
            do
            {
                value = BitConverter.Int64BitsToDouble(random.NextInt64(long.MinValue, long.MaxValue));
            }
            while (!double.IsFinite(value));

            var timestamp = i % 3 == 0 ? random.NextInt64(long.MinValue, long.MaxValue) : random.NextInt64(-1_000, 1_000);
            readings.Add(new Reading("s/d/m" + random.Next(40), timestamp, value));
        }

        var stored = new ChunkStored(5, 1L << 40, ReadingChunk.FromReadings(readings), [new SourceMark("x", 1), new SourceMark("y", long.MaxValue)]);
        var serializer = Serializer();

        // Act
        var back = serializer.FromBinary(serializer.ToBinary(stored), "rc");

        // Assert
        ContentAssert.Equal(stored, back);
    }

    [Fact]
    public void Should_round_trip_long_and_non_ascii_stream_keys()
    {
        // Arrange: keys longer than BinaryReader's 128-byte string buffer, multi-byte characters across its boundary
        var longKey = new string('x', 127) + "€" + new string('y', 400) + "/d/𝄞";
        var readings = new[] { new Reading(longKey, 1, 1.0), new Reading("ü/€/m", 2, 2.0), new Reading(longKey, 0, 3.0) };
        var stored = new ChunkStored(1, 0, ReadingChunk.FromReadings(readings), [new SourceMark(longKey, 9)]);
        var ingest = new IngestReadings(longKey, 1, readings);
        var serializer = Serializer();

        // Act
        var storedBack = serializer.FromBinary(serializer.ToBinary(stored), "rc");
        var ingestBack = serializer.FromBinary(serializer.ToBinary(ingest), "ir");

        // Assert
        ContentAssert.Equal(stored, storedBack);
        ContentAssert.Equal(ingest, ingestBack);
    }

    [Fact]
    public void Should_round_trip_an_empty_chunk()
    {
        // Arrange
        var serializer = Serializer();
        var stored = new ChunkStored(0, 0, ReadingChunk.Empty, []);

        // Act
        var back = serializer.FromBinary(serializer.ToBinary(stored), "rc");

        // Assert
        ContentAssert.Equal(stored, back);
    }

    [Theory]
    [InlineData(0x0000_0000_0000_0000L)] // 0.0
    [InlineData(unchecked((long)0x8000_0000_0000_0000UL))] // -0.0
    [InlineData(0x0000_0000_0000_0001L)] // smallest subnormal
    [InlineData(unchecked((long)0x8000_0000_0000_0001UL))] // its negative
    [InlineData(0x000F_FFFF_FFFF_FFFFL)] // largest subnormal
    [InlineData(0x7FEF_FFFF_FFFF_FFFFL)] // double.MaxValue
    [InlineData(unchecked((long)0xFFEF_FFFF_FFFF_FFFFUL))] // double.MinValue
    [InlineData(0x3FB9_9999_9999_999AL)] // 0.1
    public void Should_round_trip_episode_events_bit_exactly(long bits)
    {
        // Arrange
        var value = BitConverter.Int64BitsToDouble(bits);
        var serializer = Serializer();
        var opened = new EpisodeOpened("a/b/c", long.MaxValue, long.MinValue, -1, value, -value);
        var closed = new EpisodeClosed("a/b/c", 1, 0, long.MaxValue, long.MinValue, value);

        // Act
        var openedBack = serializer.FromBinary(serializer.ToBinary(opened), "eo");
        var closedBack = serializer.FromBinary(serializer.ToBinary(closed), "ec");

        // Assert
        ContentAssert.Equal(opened, openedBack);
        ContentAssert.Equal(closed, closedBack);
        Assert.Equal("a/b/c#" + long.MaxValue, ((EpisodeOpened)openedBack).AlertId);
    }

    [Fact]
    public void Should_round_trip_a_snapshot_with_extreme_and_empty_fields()
    {
        // Arrange
        var serializer = Serializer();
        var large = new byte[70_000];
        new Random(7).NextBytes(large);
        var snapshots = new[]
        {
            new SensorSnapshot(-1, -1, 0, 0, "", [], default, "", []),
            new SensorSnapshot(int.MaxValue, long.MaxValue, long.MaxValue, long.MinValue, "fp €𝄞", large, new EpisodeTrackerState(long.MaxValue, false, int.MaxValue, long.MinValue, -0.0), "m €𝄞", []),
            new SensorSnapshot(1, 2, 3, 4, "f", [0], new EpisodeTrackerState(1, true, 0, 1, 4.9406564584124654E-324), "", new[] { new ModelAdopted("s", 3, "m", DetectorPrior.None) }),
        };

        foreach (var snapshot in snapshots)
        {
            // Act
            var back = serializer.FromBinary(serializer.ToBinary(snapshot), "ss");

            // Assert
            ContentAssert.Equal(snapshot, back);
        }
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public void Should_throw_on_an_unknown_layout_version(string manifest)
    {
        // Arrange
        var serializer = Serializer();
        var bytes = serializer.ToBinary(Samples[manifest]());
        Assert.InRange(bytes[0], 1, 4);
        bytes[0] = 9;

        // Act
        var exception = Record.Exception(() => serializer.FromBinary(bytes, manifest));

        // Assert
        Assert.IsType<SerializationException>(exception);
        Assert.Contains("version 9", exception.Message);
    }

    [Theory]
    [InlineData("zz")]
    [InlineData("RC")]
    [InlineData("")]
    [InlineData("AnomalyActors.Core.Events.ChunkStored")]
    public void Should_throw_on_an_unknown_manifest(string manifest)
    {
        // Arrange
        var serializer = Serializer();
        var bytes = serializer.ToBinary(new TrimIntake(1));

        // Act
        var exception = Record.Exception(() => serializer.FromBinary(bytes, manifest));

        // Assert
        Assert.IsType<SerializationException>(exception);
    }

    [Fact]
    public void Should_refuse_an_object_that_is_not_one_of_its_messages()
    {
        // Arrange
        var serializer = Serializer();

        // Act
        var manifest = Record.Exception(() => serializer.Manifest("not a message"));
        var binary = Record.Exception(() => serializer.ToBinary(42));

        // Assert
        Assert.IsType<ArgumentException>(manifest);
        Assert.IsType<ArgumentException>(binary);
    }

    // Golden bytes in layout v1, derived by hand from the layout (little-endian fixed-width
    // integers and doubles, BinaryWriter strings, zig-zag varint timestamp deltas per group).
    private const string ChunkStoredV1 =
        "01" // layout version
        + "03000000" // partition 3
        + "0A00000000000000" // first offset 10
        + "02" + "03" // 2 groups, 3 readings
        + "0161" + "02" + "0A" + "03" // "a": 2 readings, timestamps 5 (zig-zag 10), 3 (delta -2: 3)
        + "0162" + "01" + "01" // "b": 1 reading, timestamp -1 (zig-zag 1)
        + "000000000000F03F" + "0000000000000080" + "0000000000000440" // 1.0, -0.0, 2.5
        + "01" + "0173" + "0700000000000000"; // sources: ("s", 7)

    private const string SensorSnapshotV1 =
        "01" // layout version
        + "02000000" // partition 2
        + "0900000000000000" // offset 9
        + "0800000000000000" // scored 8
        + "0100000000000000" // rejected 1
        + "0166" // fingerprint "f"
        + "02ABCD" // detector state, 2 bytes
        + "0100000000000000" // episodes opened 1
        + "01" // open
        + "02000000" // in-band run 2
        + "0300000000000000" // out-of-band in episode 3
        + "000000000000E03F"; // peak grade 0.5

    private const string EpisodeOpenedV1 =
        "01" + "0173" + "0100000000000000" + "0400000000000000" + "FFFFFFFFFFFFFFFF"
        + "000000000000F83F" + "000000000000D03F"; // "s", #1, offset 4, ts -1, 1.5, 0.25

    private const string EpisodeClosedV1 =
        "01" + "0173" + "0100000000000000" + "0600000000000000" + "0200000000000000"
        + "0300000000000000" + "000000000000E03F"; // "s", #1, offset 6, ts 2, 3 out of band, 0.5

    // Layout v2 of a chunk: v1's fields, then its message keys (here one session "m", packet id 5,
    // hash 6, window 100).
    private static readonly string ChunkStoredV2 =
        "02" + ChunkStoredV1[2..]
        + "01" // has keys
        + "01" + "016D" // one session: "m"
        + "01" // one key
        + "01" + "0500" + "0600000000000000" + "64"; // session 1, packet id 5, hash 6, window 100

    // Layout v3 of a chunk: v2's, with each source mark followed by the batches stored below its
    // highest (here 7 and 5 below 8: bits 0 and 2).
    private static readonly string ChunkStoredV3 =
        "03" + ChunkStoredV2[2..ChunkStoredV2.IndexOf("0173", StringComparison.Ordinal)]
        + "0173" + "0800000000000000" + "0500000000000000" // sources: ("s", 8, stored below 0b101)
        + ChunkStoredV2[(ChunkStoredV2.IndexOf("0173", StringComparison.Ordinal) + 4 + 16)..];

    // Layout v4 of the episode events and the snapshot: v1's fields, then the model version (and
    // for the snapshot its pending adoptions: here one, "s" after offset 9, model "n", prior 2.0
    // after 20 readings).
    private static readonly string EpisodeOpenedV4 = "04" + EpisodeOpenedV1[2..] + "016D"; // model "m"

    private static readonly string EpisodeClosedV4 = "04" + EpisodeClosedV1[2..] + "016D";

    private static readonly string SensorSnapshotV4 =
        "04" + SensorSnapshotV1[2..] + "016D" // model "m"
        + "01000000" + ModelAdoptedV1[2..]; // one pending adoption

    private const string ModelAdoptedV1 =
        "01" + "0173" + "0900000000000000" + "016E" + "0000000000000040" + "1400000000000000"; // "s", after 9, "n", 2.0, 20

    /// <summary>What is written today, frozen: v3 for the chunk, v4 for the episode events and the snapshot, v1 for the rest.</summary>
    public static TheoryData<string, string> GoldenCases => new()
    {
        { "rc", ChunkStoredV3 },
        { "ss", SensorSnapshotV4 },
        { "eo", EpisodeOpenedV4 },
        { "ec", EpisodeClosedV4 },
        { "ma", ModelAdoptedV1 },
    };

    /// <summary>Every layout that may sit in a journal.</summary>
    public static TheoryData<string, string> ReadableCases => new()
    {
        { "rc", ChunkStoredV1 },
        { "rc", ChunkStoredV2 },
        { "rc", ChunkStoredV3 },
        { "ss", SensorSnapshotV1 },
        { "ss", SensorSnapshotV4 },
        { "eo", EpisodeOpenedV1 },
        { "eo", EpisodeOpenedV4 },
        { "ec", EpisodeClosedV1 },
        { "ec", EpisodeClosedV4 },
        { "ma", ModelAdoptedV1 },
    };

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void Should_write_persisted_messages_in_their_frozen_layout(string manifest, string golden)
    {
        // Arrange
        var serializer = Serializer();
        var message = GoldenMessage(manifest);

        // Act
        var bytes = serializer.ToBinary(message);

        // Assert
        Assert.Equal(golden, Convert.ToHexString(bytes));
    }

    [Theory]
    [MemberData(nameof(ReadableCases))]
    public void Should_read_persisted_messages_from_every_frozen_layout(string manifest, string golden)
    {
        // Arrange
        var serializer = Serializer();
        var expected = GoldenMessage(manifest);
        if (golden == ChunkStoredV1 || golden == ChunkStoredV2)
        {
            // Older layouts held a high-water mark: every batch at or below it stored.
            expected = ((ChunkStored)expected) with { Sources = [new SourceMark("s", 7)] };
        }

        if (golden == SensorSnapshotV1)
        {
            expected = ((SensorSnapshot)expected) with { ModelVersion = "", PendingModels = [] }; // v1 had no model
        }
        else if (golden == EpisodeOpenedV1)
        {
            expected = ((EpisodeOpened)expected) with { Model = "" };
        }
        else if (golden == EpisodeClosedV1)
        {
            expected = ((EpisodeClosed)expected) with { Model = "" };
        }

        if (golden == ChunkStoredV1)
        {
            expected = ((ChunkStored)expected) with { Deliveries = null }; // v1 had no keys
        }

        // Act
        var message = serializer.FromBinary(Convert.FromHexString(golden), manifest);

        // Assert
        ContentAssert.Equal(expected, message);
    }

    [Fact]
    public void Should_round_trip_batches_without_message_keys()
    {
        var serializer = Serializer();
        object[] messages =
        [
            new IngestReadings("kafka", 1, [new Reading("a/b/c", 1, 2)]),
            new AppendChunk(1, "kafka", 1, [new Reading("a/b/c", 1, 2)]),
            new ChunkStored(1, 0, ReadingChunk.FromReadings([new Reading("a/b/c", 1, 2)]), [new SourceMark("kafka", 1)]),
        ];

        foreach (var message in messages)
        {
            ContentAssert.Equal(message, serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message)));
        }
    }

    private static object GoldenMessage(string manifest) => manifest switch
    {
        "rc" => new ChunkStored(3, 10, new ReadingChunk(["a", "b"], [0, 2, 3], [5, 3, -1], [1.0, -0.0, 2.5]), [new SourceMark("s", 8, 0b101)],
            new ChunkDeliveries([new DeliveryKey("m", 5, 6)], [100])),
        "ss" => new SensorSnapshot(2, 9, 8, 1, "f", [0xAB, 0xCD], new EpisodeTrackerState(1, true, 2, 3, 0.5), "m", new[] { new ModelAdopted("s", 9, "n", new DetectorPrior(2.0, 20)) }),
        "eo" => new EpisodeOpened("s", 1, 4, -1, 1.5, 0.25, "m"),
        "ec" => new EpisodeClosed("s", 1, 6, 2, 3, 0.5, "m"),
        "ma" => new ModelAdopted("s", 9, "n", new DetectorPrior(2.0, 20)),
        _ => throw new ArgumentOutOfRangeException(nameof(manifest)),
    };

    private AnomalyActorsSerializer Serializer() =>
        Assert.IsType<AnomalyActorsSerializer>(Sys.Serialization.FindSerializerForType(typeof(IAnomalyActorsMessage)));

    /// <summary>The node's shipped hocon/akka.conf (its serializer binding), on a local provider.</summary>
    private static Config NodeBindingConfig()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "hocon", "akka.conf");
        return ConfigurationFactory.ParseString("akka.actor.provider = local\nakka.loglevel = WARNING")
            .WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(path)));
    }

    /// <summary>Three groups; negative, non-monotonic and extreme timestamps; signed zeros, subnormals, huge values.</summary>
    private static ChunkStored RichChunkStored()
    {
        var keys = new[] { "site-1/dev-A/temp", "site-1/dev-B/hum", "ü/€/𝄞" };
        var starts = new[] { 0, 6, 7, 10 };
        var timestamps = new long[]
        {
            1_700_000_000_000, 1_699_999_999_000, -5, long.MaxValue, long.MinValue, 0, // group 0
            -1, // group 1
            3, 3, 2, // group 2
        };
        var values = new[]
        {
            -0.0, 0.0, double.Epsilon, -double.Epsilon, 2.2250738585072009E-308, double.MaxValue,
            -double.MaxValue,
            1e308, 1.0 / 3.0, BitConverter.Int64BitsToDouble(unchecked((long)0x800F_FFFF_FFFF_FFFFUL)),
        };
        var chunk = new ReadingChunk(keys, starts, timestamps, values);
        return new ChunkStored(11, 123_456_789_012, chunk, [new SourceMark("mqtt-1", 0), new SourceMark("http", long.MaxValue), new SourceMark("neg", -3)],
            new ChunkDeliveries([new DeliveryKey("mqtt:a", 7, 8), new DeliveryKey("mqtt:b", 7, 8), new DeliveryKey("mqtt:a", 9, 10)], [20, 65535, 20]));
    }
}
