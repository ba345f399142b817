using Akka.Configuration;
using AnomalyActors.Core.Commands;
using AnomalyActors.Node.Hosting;

namespace AnomalyActors.TestNode;

/// <summary>
/// Runs a node on a data directory and feeds the deterministic test input from a given batch,
/// keeping several batches in flight, printing "ACK n" as each becomes durable. The test kills the
/// process (SIGKILL) at a chosen point; nothing here shuts down gracefully on purpose.
/// usage: TestNode DATA_DIR FROM_BATCH SENSORS READINGS_PER_SENSOR BATCH_SIZE PARTITIONS SNAPSHOT_EVERY
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length != 7)
        {
            Console.Error.WriteLine("usage: TestNode DATA_DIR FROM_BATCH SENSORS READINGS_PER_SENSOR BATCH_SIZE PARTITIONS SNAPSHOT_EVERY");
            return 2;
        }

        var dataDirectory = args[0];
        var from = int.Parse(args[1]);
        var input = new TestInput(int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4]));
        var overrides = ConfigurationFactory.ParseString($$"""
            anomaly-actors {
              data-dir = "{{dataDirectory}}"
              persistence.provider = sqlite
              intake.partitions = {{args[5]}}
              intake.trim-interval = 200ms
              sensor.snapshot-every-readings = {{args[6]}}
              sensor.snapshot-interval = 1s
              alerts.console = off
            }
            akka.loglevel = WARNING
            """);
        var node = await AnomalyNode.StartAsync(overrides);
        Console.WriteLine("STARTED");

        const int inFlight = 4;
        var pending = new Queue<(int Batch, Task<object> Reply)>();
        for (var b = from; b < input.Batches.Length; b++)
        {
            pending.Enqueue((b, node.IngestAsync(new IngestReadings("crash-source", b, input.Batches[b]))));
            if (pending.Count >= inFlight)
            {
                await Acknowledge(pending.Dequeue());
            }
        }

        while (pending.Count > 0)
        {
            await Acknowledge(pending.Dequeue());
        }

        Console.WriteLine("DONE");
        await Task.Delay(Timeout.Infinite);
        return 0;
    }

    private static async Task Acknowledge((int Batch, Task<object> Reply) item)
    {
        var reply = await item.Reply;
        if (reply is not ReadingsAccepted)
        {
            Console.WriteLine($"FAILED {item.Batch} {reply}");
            Environment.Exit(3);
        }

        Console.WriteLine($"ACK {item.Batch}");
    }
}
