using System.Globalization;
using AnomalyActors.Host.Demo;

namespace AnomalyActors.Cli;

/// <summary><c>demo</c>: the multi-site layout on one machine, sites alerting and the global view catching up.</summary>
internal static class DemoCommand
{
    public static readonly CommandSpec Spec = new(
        "demo",
        "Run N sites (each with its own in-memory Kafka, node and simulated devices) and the global layer that shows all their alerts.",
        null,
        null,
        [
            new("sites", "N", "Number of sites, dc1.. (default 2)."),
            new("devices", "N", "Simulated devices per site (default 10; 1% of readings are spikes)."),
            new("rate", "R", "Readings per second per device (default 10)."),
            new("web-port", "PORT", "Port of the global dashboard (default 8686; 0 = any free port). The sites' dashboards take free ports."),
            new("duration", "SECONDS", "Stop the devices after this long, wait for the global view to catch up, and stop (default: run until Ctrl+C)."),
            new("status-every", "SECONDS", "Print the sites' and the global view's counts this often (default 5)."),
            new("data-dir", "DIR", "Where the sites' and the global layer's data go (default ./demo-data, emptied first)."),
        ]);

    public static async Task<int> ExecuteAsync(ParsedArguments args, CancellationToken stopping)
    {
        var options = new DemoOptions(
            args.Int("sites", 2, minimum: 1, maximum: 9),
            args.Int("devices", 10, minimum: 1, maximum: 10_000),
            args.Double("rate", 10, minimum: 0.001),
            Path.GetFullPath(args.Text("data-dir", "demo-data")),
            args.Int("web-port", 8686, minimum: 0, maximum: 65535));
        var duration = args.Double("duration", 0);
        var statusEvery = Math.Max(0.5, args.Double("status-every", 5));
        if (Directory.Exists(options.WorkDirectory))
        {
            // Each demo starts from nothing: its Kafka clusters live in memory only.
            Directory.Delete(options.WorkDirectory, recursive: true);
        }

        Console.WriteLine($"Starting {options.Sites} site(s), each with its own Kafka (in memory), node and {options.DevicesPerSite} simulated devices, and the global layer...");
        await using var demo = await MultiSiteDemo.StartAsync(options, message => Console.WriteLine($"  {message}"));
        foreach (var site in demo.Sites)
        {
            Console.WriteLine($"Site {site.Name}: Kafka {site.Kafka.BootstrapServers}, dashboard {site.Node.Dashboard?.Address}");
        }

        Console.WriteLine($"Global layer: Kafka {demo.Global.Settings.Global.BootstrapServers}, dashboard {demo.Global.Dashboard?.Address} (every site's alerts and each link's health)");
        Console.WriteLine(duration > 0 ? $"Running for {duration.ToString(CultureInfo.InvariantCulture)} s." : "Ctrl+C stops the devices, waits for the global view and stops.");
        var started = DateTime.UtcNow;
        using var runFor = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        if (duration > 0)
        {
            runFor.CancelAfter(TimeSpan.FromSeconds(duration));
        }

        try
        {
            while (!runFor.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(statusEvery), runFor.Token);
                Console.WriteLine($"[{DateTime.UtcNow - started:hh\\:mm\\:ss}] {demo.Describe()}");
            }
        }
        catch (OperationCanceledException)
        {
        }

        Console.WriteLine("Stopping the devices; waiting for the global view to show every alert...");
        await demo.StopDevicesAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!demo.GlobalCaughtUp && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500, CancellationToken.None);
        }

        Console.WriteLine($"[{DateTime.UtcNow - started:hh\\:mm\\:ss}] {demo.Describe()}");
        var total = demo.Sites.Sum(s => s.Node.Node.Metrics.EpisodesOpened);
        Console.WriteLine(demo.GlobalCaughtUp
            ? $"The global view shows all {total:N0} alerts of {demo.Sites.Count} sites."
            : $"The global view did not catch up within 60 s: {demo.Global.Board.Count:N0} of {total:N0} alerts.");
        return demo.GlobalCaughtUp ? ExitCodes.Ok : ExitCodes.Failure;
    }
}
