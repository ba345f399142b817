using AnomalyActors.Nab;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>The anomaly-actors executable, run as its own process the way users run it.</summary>
public sealed class CliSpecs
{
    private static Task<(int ExitCode, string Output)> RunAsync(string workingDirectory, TimeSpan timeout, params string[] args) =>
        CliProcess.RunAsync(workingDirectory, timeout, args);

    [Theory]
    [InlineData("run", "--simulate N")]
    [InlineData("simulate", "--ground-truth FILE")]
    [InlineData("replay", "--detector NAME")]
    public async Task Should_print_help_for_every_command(string command, string option)
    {
        var (exit, output) = await RunAsync(HostFixture.NewDataDirectory(), TimeSpan.FromSeconds(60), command, "--help");

        Assert.Equal(0, exit);
        Assert.Contains($"anomaly-actors {command}", output);
        Assert.Contains(option, output);
    }

    [Theory]
    [InlineData(new[] { "run", "--simulate", "many" }, "option '--simulate' must be an integer")]
    [InlineData(new[] { "run", "--bogus" }, "unknown option '--bogus'")]
    [InlineData(new[] { "frobnicate" }, "unknown command 'frobnicate'")]
    [InlineData(new[] { "replay" }, "replay needs a FILE")]
    [InlineData(new[] { "replay", "/no/such/file.csv" }, "does not exist")]
    public async Task Should_exit_2_with_a_clear_message_on_bad_arguments(string[] args, string message)
    {
        var (exit, output) = await RunAsync(HostFixture.NewDataDirectory(), TimeSpan.FromSeconds(60), args);

        Assert.Equal(2, exit);
        Assert.Contains(message, output);
    }

    [Fact]
    public async Task Should_exit_3_naming_the_key_and_the_file_on_a_bad_configuration()
    {
        var directory = HostFixture.NewDataDirectory();
        var hocon = Path.Combine(directory, "hocon");
        Directory.CreateDirectory(hocon);
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "hocon")))
        {
            File.Copy(file, Path.Combine(hocon, Path.GetFileName(file)));
        }

        var conf = Path.Combine(hocon, "anomaly-actors.conf");
        File.WriteAllText(conf, File.ReadAllText(conf).Replace("provider = sqlite", "provider = floppy", StringComparison.Ordinal));

        var (exit, output) = await RunAsync(directory, TimeSpan.FromSeconds(60), "run", "--config", hocon, "--duration", "1");

        Assert.Equal(3, exit);
        Assert.Contains("anomaly-actors.persistence.provider", output);
        Assert.Contains(conf, output);
    }

    [Fact]
    public async Task Should_replay_nab_speed_7578_printing_episodes_and_a_summary()
    {
        var file = Path.Combine(NabCorpus.DefaultRoot(), "data", "realTraffic", "speed_7578.csv");
        Assert.True(File.Exists(file), $"NAB file {file} is missing.");

        var (exit, output) = await RunAsync(HostFixture.NewDataDirectory(), TimeSpan.FromSeconds(120), "replay", file, "--detector", "rcf-likelihood");

        Assert.True(exit == 0, output);
        Assert.Contains("ALERT OPEN   replay/speed_7578/value#1", output);
        Assert.Matches(@"Replayed speed_7578\.csv: 1,127 readings, 1 stream\(s\), [1-9]\d* episode\(s\)", output);
        Assert.Contains("readings/s", output);
    }

    [Fact]
    public async Task Should_print_alerts_on_lines_of_their_own_and_true_totals_under_a_terminals_progress_line()
    {
        // Arrange: a pseudo-terminal (util-linux script), where the progress line is redrawn in place
        var file = Path.Combine(NabCorpus.DefaultRoot(), "data", "realTraffic", "speed_7578.csv");
        var info = new System.Diagnostics.ProcessStartInfo("script") { RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = HostFixture.NewDataDirectory() };
        foreach (var argument in new[] { "-qec", $"dotnet {CliProcess.Program} replay {file} --detector rcf-likelihood", "/dev/null" })
        {
            info.ArgumentList.Add(argument);
        }

        // Act
        using var script = System.Diagnostics.Process.Start(info)!;
        var output = await script.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(120));
        await script.WaitForExitAsync();

        // Assert: what the terminal shows of each line is what comes after its last carriage return
        var shown = output.Split('\n').Select(line => line.TrimEnd('\r').Split('\r')[^1]).ToArray();
        var alerts = output.Split('\n').Where(line => line.Contains("ALERT ", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(alerts);
        Assert.All(alerts, line => Assert.StartsWith("ALERT ", line.TrimEnd('\r').Split('\r')[^1]));
        Assert.Contains(shown, line => line.StartsWith("1,127/1,127 lines", StringComparison.Ordinal) && line.Contains("1,127 scored", StringComparison.Ordinal));
        Assert.Contains(shown, line => line.StartsWith("Replayed speed_7578.csv: 1,127 readings", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_show_simulated_anomalies_within_10_seconds_and_stop_gracefully_on_sigterm()
    {
        var directory = HostFixture.NewDataDirectory();
        var port = HostFixture.FreePortNumber().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var cli = CliProcess.Start(directory, "run", "--simulate", "10", "--mqtt-port", port);
        try
        {
            await HostFixture.AwaitAsync(() => cli.FirstLineAt("ALERT OPEN") is not null || cli.Process.HasExited, TimeSpan.FromSeconds(60), () => cli.Output);
            var simulating = cli.FirstLineAt("Simulating");
            var firstAlert = cli.FirstLineAt("ALERT OPEN");

            Assert.NotNull(simulating);
            Assert.NotNull(firstAlert);
            Assert.True(firstAlert - simulating < TimeSpan.FromSeconds(10), $"first alert {(firstAlert - simulating)?.TotalSeconds:0.0} s after the simulator started:\n{cli.Output}");

            await cli.TerminateAsync(TimeSpan.FromSeconds(60));

            Assert.Equal(0, cli.Process.ExitCode);
            Assert.Contains("Stopped.", cli.Output);
            // The status line also counts what the data directory holds from earlier runs.
            Assert.Matches(@"since .*/data was created: [1-9][\d,]* readings stored, [1-9][\d,]* alert lines, 0 dead letters", cli.Output);
            // The MQTT stage drained: its last batches became durable before the node stopped.
            Assert.DoesNotContain("did not finish", cli.Output);
            Assert.DoesNotContain("did not stop", cli.Output);
            Assert.True(File.Exists(Path.Combine(directory, "data", "anomaly-actors.db")), "SQLite database in ./data");
            Assert.Contains("\"type\":\"open\"", File.ReadAllText(Path.Combine(directory, "data", "alerts.jsonl")));
        }
        finally
        {
            cli.Stop();
        }
    }
}
