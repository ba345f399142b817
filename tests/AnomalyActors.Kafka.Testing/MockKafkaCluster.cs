using AnomalyActors.Kafka.Embedded;

namespace AnomalyActors.Kafka.Testing;

/// <summary>A test's Kafka: librdkafka's mock cluster (<see cref="EmbeddedKafka"/>), with the fault injection tests use.</summary>
public sealed class MockKafkaCluster(int brokers = 3) : IDisposable
{
    private readonly EmbeddedKafka _kafka = new(brokers);

    /// <summary>Comma-separated 127.0.0.1:port list.</summary>
    public string BootstrapServers => _kafka.BootstrapServers;

    public int BrokerCount => _kafka.BrokerCount;

    /// <summary>Broker ids of the mock run 1..N.</summary>
    public IEnumerable<int> BrokerIds => _kafka.BrokerIds;

    public void CreateTopic(string topic, int partitions, int replicationFactor = 1) => _kafka.CreateTopic(topic, partitions, replicationFactor);

    public void BrokerDown(int brokerId) => _kafka.BrokerDown(brokerId);

    public void BrokerUp(int brokerId) => _kafka.BrokerUp(brokerId);

    public void DeleteRecordsBefore(string topic, int partition, long offset) => _kafka.DeleteRecordsBefore(topic, partition, offset);

    public void SetLeader(string topic, int partition, int brokerId) => _kafka.SetLeader(topic, partition, brokerId);

    public void Dispose() => _kafka.Dispose();
}
