using System.Runtime.InteropServices;
using System.Text;

namespace AnomalyActors.Kafka.Embedded;

/// <summary>
/// librdkafka's in-process mock cluster: real Kafka wire protocol on loopback TCP ports, so any
/// client (Confluent.Kafka in this process, kcat outside it) can talk to it. What the tests and
/// <c>demo</c> run as a site's (and the global layer's) Kafka; it keeps everything in memory, so it
/// is never a production broker. Topics are created with
/// their partition count; brokers can be taken down and brought back (fault injection). The first
/// group join does not wait (initial rebalance delay 0).
/// </summary>
public sealed class EmbeddedKafka : IDisposable
{
    private readonly object _gate = new();
    private IntPtr _handle;
    private IntPtr _cluster;

    public EmbeddedKafka(int brokers = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        Native.EnsureResolver();
        BrokerCount = brokers;
        var conf = Native.rd_kafka_conf_new();
        var error = new StringBuilder(512);
        // A producer handle only carries the mock cluster; it never connects anywhere itself.
        Set(conf, "client.id", "mock-cluster-host", error);
        _handle = Native.rd_kafka_new(0, conf, error, (UIntPtr)error.Capacity);
        if (_handle == IntPtr.Zero)
        {
            throw new InvalidOperationException("rd_kafka_new failed: " + error);
        }

        _cluster = Native.rd_kafka_mock_cluster_new(_handle, brokers);
        if (_cluster == IntPtr.Zero)
        {
            Native.rd_kafka_destroy(_handle);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed");
        }

        BootstrapServers = Marshal.PtrToStringUTF8(Native.rd_kafka_mock_cluster_bootstraps(_cluster))
            ?? throw new InvalidOperationException("The mock cluster reported no bootstrap servers.");
        Native.rd_kafka_mock_group_initial_rebalance_delay_ms(_cluster, 0);
    }

    /// <summary>Comma-separated 127.0.0.1:port list.</summary>
    public string BootstrapServers { get; }

    public int BrokerCount { get; }

    /// <summary>Broker ids of the mock run 1..N.</summary>
    public IEnumerable<int> BrokerIds => Enumerable.Range(1, BrokerCount);

    public void CreateTopic(string topic, int partitions, int replicationFactor = 1)
    {
        lock (_gate)
        {
            var err = Native.rd_kafka_mock_topic_create(Live(), topic, partitions, replicationFactor);
            if (err != 0)
            {
                throw new InvalidOperationException($"Creating topic {topic} failed: {Marshal.PtrToStringUTF8(Native.rd_kafka_err2str(err))}");
            }
        }
    }

    /// <summary>Disconnects the broker and refuses new connections until <see cref="BrokerUp"/>.</summary>
    public void BrokerDown(int brokerId) => Check(Native.rd_kafka_mock_broker_set_down(Live(), brokerId), "broker down");

    /// <summary>Deletes a partition's records before an offset, as retention would: its log start moves there.</summary>
    public void DeleteRecordsBefore(string topic, int partition, long offset)
    {
        lock (_gate)
        {
            Check(Native.rd_kafka_mock_partition_delete_records(Live(), topic, partition, offset), "delete records");
        }
    }

    public void BrokerUp(int brokerId) => Check(Native.rd_kafka_mock_broker_set_up(Live(), brokerId), "broker up");

    /// <summary>Moves a partition's leadership (e.g. away from a broker that is down).</summary>
    public void SetLeader(string topic, int partition, int brokerId) =>
        Check(Native.rd_kafka_mock_partition_set_leader(Live(), topic, partition, brokerId), "set leader");

    private IntPtr Live() => _cluster != IntPtr.Zero ? _cluster : throw new ObjectDisposedException(nameof(EmbeddedKafka));

    private static void Check(int err, string what)
    {
        if (err != 0)
        {
            throw new InvalidOperationException($"Mock cluster {what} failed: {Marshal.PtrToStringUTF8(Native.rd_kafka_err2str(err))}");
        }
    }

    private static void Set(IntPtr conf, string name, string value, StringBuilder error)
    {
        if (Native.rd_kafka_conf_set(conf, name, value, error, (UIntPtr)error.Capacity) != 0)
        {
            throw new InvalidOperationException($"rd_kafka_conf_set {name}: {error}");
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_cluster != IntPtr.Zero)
            {
                Native.rd_kafka_mock_cluster_destroy(_cluster);
                _cluster = IntPtr.Zero;
            }

            if (_handle != IntPtr.Zero)
            {
                Native.rd_kafka_destroy(_handle);
                _handle = IntPtr.Zero;
            }
        }
    }

    private static class Native
    {
        private const string Lib = "librdkafka";
        private static readonly Lock Gate = new();
        private static bool _resolverSet;

        /// <summary>
        /// The redist's default librdkafka.so needs libsasl2.so.3, which Debian lacks, so Confluent
        /// falls back to another build. Binding "librdkafka" by name could load a different file (or
        /// none): load what Confluent loaded, found in this process's memory map.
        /// </summary>
        public static void EnsureResolver()
        {
            // Test classes run in parallel: nobody may call into the library before the resolver is set.
            lock (Gate)
            {
                if (!_resolverSet)
                {
                    SetResolver();
                    _resolverSet = true;
                }
            }
        }

        private static void SetResolver()
        {
            Confluent.Kafka.Library.Load();
            var path = File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(parts => parts.Length >= 6 && Path.GetFileName(parts[5]).Contains("librdkafka", StringComparison.Ordinal))
                .Select(parts => parts[5])
                .FirstOrDefault()
                ?? throw new InvalidOperationException("Confluent.Kafka loaded no librdkafka that /proc/self/maps shows.");
            var handle = NativeLibrary.Load(path);
            NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, (name, _, _) => name == Lib ? handle : IntPtr.Zero);
        }

        [DllImport(Lib)] public static extern IntPtr rd_kafka_conf_new();
        [DllImport(Lib)] public static extern int rd_kafka_conf_set(IntPtr conf, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, StringBuilder errstr, UIntPtr errstrSize);
        [DllImport(Lib)] public static extern IntPtr rd_kafka_new(int type, IntPtr conf, StringBuilder errstr, UIntPtr errstrSize);
        [DllImport(Lib)] public static extern void rd_kafka_destroy(IntPtr rk);
        [DllImport(Lib)] public static extern IntPtr rd_kafka_err2str(int err);
        [DllImport(Lib)] public static extern IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokers);
        [DllImport(Lib)] public static extern void rd_kafka_mock_cluster_destroy(IntPtr cluster);
        [DllImport(Lib)] public static extern IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr cluster);
        [DllImport(Lib)] public static extern int rd_kafka_mock_topic_create(IntPtr cluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partitions, int replicationFactor);
        [DllImport(Lib)] public static extern int rd_kafka_mock_broker_set_down(IntPtr cluster, int brokerId);
        [DllImport(Lib)] public static extern int rd_kafka_mock_broker_set_up(IntPtr cluster, int brokerId);
        [DllImport(Lib)] public static extern int rd_kafka_mock_partition_set_leader(IntPtr cluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partition, int brokerId);
        [DllImport(Lib)] public static extern void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr cluster, int delayMs);
        [DllImport(Lib)] public static extern int rd_kafka_mock_partition_delete_records(IntPtr cluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partition, long offset);
    }
}
