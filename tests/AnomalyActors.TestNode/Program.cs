using AnomalyActors.Core.Commands;
using AnomalyActors.Node.Hosting;

namespace AnomalyActors.TestNode;

/// <summary>
/// Runs a node on a data directory and feeds the deterministic test input from a given batch,
/// keeping several batches in flight, printing "ACK n" as each becomes durable. The test kills the
/// process (SIGKILL) at a chosen point; nothing here shuts down gracefully on purpose. With
/// SWITCH_AT_BATCH, the batches before it are fed and scored, then the sensors get
/// <see cref="TestModels.Switched"/>, and "ADOPTED" is printed once every sensor journaled it.
/// usage: TestNode DATA_DIR FROM_BATCH SENSORS READINGS_PER_SENSOR BATCH_SIZE PARTITIONS SNAPSHOT_EVERY [SWITCH_AT_BATCH]
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length is not (7 or 8))
        {
            Console.Error.WriteLine("usage: TestNode DATA_DIR FROM_BATCH SENSORS READINGS_PER_SENSOR BATCH_SIZE PARTITIONS SNAPSHOT_EVERY [SWITCH_AT_BATCH]");
            return 2;
        }

        var dataDirectory = args[0];
        var from = int.Parse(args[1]);
        var sensors = int.Parse(args[2]);
        var input = new TestInput(sensors, int.Parse(args[3]), int.Parse(args[4]));
        var overrides = TestNodeConfig.For(dataDirectory, partitions: int.Parse(args[5]), snapshotEvery: int.Parse(args[6]));
        var switchAt = args.Length == 8 ? int.Parse(args[7]) : -1;
        var models = new AnomalyActors.Core.Models.CurrentModel();
        var node = await AnomalyNode.StartAsync(overrides, models: models);
        Console.WriteLine("STARTED");

        const int inFlight = 4;
        var pending = new Queue<(int Batch, Task<object> Reply)>();
        for (var b = from; b < input.Batches.Length; b++)
        {
            if (b == switchAt)
            {
                while (pending.Count > 0)
                {
                    await Acknowledge(pending.Dequeue());
                }

                while (node.Metrics.ReadingsScored < (long)switchAt * input.Batches[0].Length)
                {
                    await Task.Delay(10);
                }

                models.Set(TestModels.Switched);
                _ = Task.Run(async () =>
                {
                    while (node.Metrics.ModelAdoptions < sensors)
                    {
                        await Task.Delay(10);
                    }

                    Console.WriteLine("ADOPTED");
                });
            }

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
