using System.Diagnostics;
using System.Globalization;
using Akka.Configuration;
using AnomalyActors.Mqtt;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>A fact that needs network namespaces; skipped, with the reason, where they cannot be made.</summary>
public sealed class NamespaceFactAttribute : FactAttribute
{
    public NamespaceFactAttribute()
    {
        if (NetworkNamespace.Unavailable is { } why)
        {
            Skip = why;
        }
    }
}

/// <summary>
/// What a user gets without configuring anything: listeners on loopback only, no password that ships
/// with the product, and a loud warning when a listener is configured beyond loopback without TLS.
/// </summary>
public sealed class SafeDefaultsSpecs
{
    [Fact]
    public async Task Should_listen_on_loopback_only_and_use_a_generated_service_password_with_the_shipped_configuration()
    {
        // Arrange: `run` as users start it, on a free port so the test runs beside others
        var directory = HostFixture.NewDataDirectory();
        var port = HostFixture.FreePortNumber();
        using var cli = CliProcess.Start(directory, "run", "--simulate", "2", "--mqtt-port", port.ToString(CultureInfo.InvariantCulture));
        try
        {
            await HostFixture.AwaitAsync(() => cli.Output.Contains("Simulating", StringComparison.Ordinal) || cli.Process.HasExited, TimeSpan.FromSeconds(90), () => cli.Output);
            Assert.False(cli.Process.HasExited, cli.Output);

            // Act
            var listeners = ListeningAddresses(cli.Process.Id);
            var passwordFile = ServicePassword.PathIn(Path.Combine(directory, "data"));
            var oldFixedPassword = await Record.ExceptionAsync(() => HostFixture.ConnectAsync(port, "anomaly-actors", "anomaly-actors"));
            var (simulateExit, simulateOutput) = await CliProcess.RunAsync(directory, TimeSpan.FromSeconds(60),
                "simulate", "--port", port.ToString(CultureInfo.InvariantCulture), "--devices", "1", "--count", "5", "--data-dir", "data");

            // Assert: the broker's and the dashboard's ports among them, nothing on a wildcard or a network address
            Assert.Contains($"127.0.0.1:{port}", listeners);
            var dashboard = cli.Output.Split('\n').Single(line => line.StartsWith("Dashboard: http://127.0.0.1:", StringComparison.Ordinal));
            Assert.Contains($"127.0.0.1:{new Uri(dashboard["Dashboard: ".Length..].Split(' ')[0]).Port}", listeners);
            Assert.All(listeners, address => Assert.True(IsLoopback(address), $"{address} is not a loopback address; all listeners: {string.Join(", ", listeners)}"));
            Assert.True(File.Exists(passwordFile), "no service password was generated");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, OperatingSystem.IsWindows() ? UnixFileMode.UserRead | UnixFileMode.UserWrite : File.GetUnixFileMode(passwordFile));
            Assert.True(File.ReadAllText(passwordFile).Trim().Length >= 24, "the generated password is too short");
            Assert.NotNull(oldFixedPassword);
            Assert.True(simulateExit == 0, simulateOutput);
            Assert.Contains("Published 5 readings", simulateOutput);
        }
        finally
        {
            cli.Stop();
        }
    }

    [Fact]
    public void Should_ship_no_password_in_the_configuration()
    {
        var (config, source) = Node.Hosting.NodeConfig.Load();

        var mqtt = MqttSettings.FromConfig(config, "/unused", source);

        Assert.Null(mqtt.Subscriber.Password);
        Assert.All(mqtt.Broker.Users, user => Assert.Fail($"the shipped configuration has an account: {user.Username}"));
        Assert.False(mqtt.Broker.AllowAnonymous);
    }

    [Fact]
    public void Should_ship_the_dashboard_on_loopback_without_a_token()
    {
        var (config, source) = Node.Hosting.NodeConfig.Load();

        var web = Web.WebSettings.FromConfig(config, source);

        Assert.True(web.Enabled);
        Assert.True(web.OnLoopback);
        Assert.Null(web.Token);
    }

    [Fact]
    public void Should_keep_one_generated_password_per_data_directory()
    {
        var first = HostFixture.NewDataDirectory();
        var second = HostFixture.NewDataDirectory();

        var a = ServicePassword.ReadOrCreate(first);
        var again = ServicePassword.ReadOrCreate(first);
        var b = ServicePassword.ReadOrCreate(second);

        Assert.Equal(a, again);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void Should_give_the_embedded_broker_the_service_account_with_the_password_the_subscriber_uses()
    {
        var directory = HostFixture.NewDataDirectory();
        var (config, source) = Node.Hosting.NodeConfig.Load(ConfigurationFactory.ParseString($"anomaly-actors.data-dir = \"{directory}\""));

        var mqtt = MqttSettings.FromConfig(config, directory, source).WithServiceAccount(directory);

        var account = Assert.Single(mqtt.Broker.Users);
        Assert.Equal(("anomaly-actors", MqttRole.Service), (account.Username, account.Role));
        Assert.Equal(ServicePassword.TryRead(directory), account.Password);
        Assert.Equal(account.Password, mqtt.Subscriber.Password);
    }

    [NamespaceFact]
    public async Task Should_refuse_a_dashboard_beyond_loopback_without_a_token_and_every_request_without_it()
    {
        // Arrange: a namespace of the test's own, with an address that is not loopback
        using var ns = NetworkNamespace.Create();
        ns.AddAddress("10.211.0.1/24");
        const string Token = "0123456789abcdef0123456789abcdef";
        CliProcess Start(string? token)
        {
            var start = ns.StartInfo("dotnet", CliProcess.Program, "run", "--duration", "30", "--no-mqtt", "--web-port", "8686");
            start.Environment["ANOMALY_ACTORS_WEB_HOST"] = "10.211.0.1";
            if (token is not null)
            {
                start.Environment["ANOMALY_ACTORS_WEB_TOKEN"] = token;
            }

            return CliProcess.Start(HostFixture.NewDataDirectory(), start);
        }

        // A raw HTTP/1.0 request from inside the namespace (bash's /dev/tcp): its status line.
        string StatusOf(string path, string? token) => ns.Exec("bash", "-c",
            "exec 3<>/dev/tcp/10.211.0.1/8686; printf 'GET " + path + " HTTP/1.0\\r\\nHost: 10.211.0.1\\r\\n" +
            (token is null ? string.Empty : "Authorization: Bearer " + token + "\\r\\n") + "\\r\\n' >&3; head -n 1 <&3").Trim();

        // Act + Assert: without a token the node does not start
        using (var refused = Start(token: null))
        {
            Assert.True(refused.Process.WaitForExit(90_000), refused.Output);
            // A bounded wait returns at the exit, before the last of its output has been read.
            refused.Process.WaitForExit();
            Assert.Equal(3, refused.Process.ExitCode);
            Assert.Contains("'anomaly-actors.web.host' is 10.211.0.1, beyond this machine, but 'anomaly-actors.web.token' is empty", refused.Output);
        }

        // ...with one, every request needs it
        using var cli = Start(Token);
        try
        {
            await HostFixture.AwaitAsync(() => cli.Output.Contains("Ctrl+C stops", StringComparison.Ordinal) || cli.Process.HasExited, TimeSpan.FromSeconds(90), () => cli.Output);
            Assert.False(cli.Process.HasExited, cli.Output);
            Assert.Contains("Dashboard: http://10.211.0.1:8686/", cli.Output);

            // The warning goes through the actor system's asynchronous log, so it may follow the console's banner.
            const string Warning = "The dashboard listens on 10.211.0.1:8686, beyond this machine, without TLS";
            await HostFixture.AwaitAsync(() => cli.Output.Contains(Warning, StringComparison.Ordinal) || cli.Process.HasExited, TimeSpan.FromSeconds(30), () => cli.Output);
            Assert.Contains(Warning, cli.Output);
            foreach (var path in new[] { "/api/alerts", "/metrics", "/" })
            {
                Assert.Contains(" 401 ", StatusOf(path, token: null));
                Assert.Contains(" 401 ", StatusOf(path, Token + "x"));
            }

            Assert.Contains(" 200 ", StatusOf("/api/alerts", Token));
            Assert.Contains(" 200 ", StatusOf("/metrics", Token));
        }
        finally
        {
            cli.Stop();
        }
    }

    [NamespaceFact]
    public async Task Should_warn_when_a_listener_is_configured_beyond_loopback_without_tls()
    {
        // Arrange: a namespace of the test's own, with an address that is not loopback
        using var ns = NetworkNamespace.Create();
        ns.AddAddress("10.211.0.1/24");
        var directory = HostFixture.NewDataDirectory();
        var start = ns.StartInfo("dotnet", CliProcess.Program, "run", "--duration", "30");
        start.Environment["ANOMALY_ACTORS_MQTT_HOST"] = "10.211.0.1";
        start.Environment["ANOMALY_ACTORS_HOST"] = "10.211.0.1";
        using var cli = CliProcess.Start(directory, start);
        try
        {
            await HostFixture.AwaitAsync(() => cli.Output.Contains("Ctrl+C stops", StringComparison.Ordinal) || cli.Process.HasExited, TimeSpan.FromSeconds(90), () => cli.Output);

            // Act
            var listening = ns.Exec("ss", "-ltnH");

            // Assert: the explicit address is honoured, and both listeners say they are exposed
            Assert.False(cli.Process.HasExited, cli.Output);
            Assert.Contains("10.211.0.1:1883", listening);

            // The warnings go through the actor system's asynchronous log, so they may follow the console's banner.
            const string BrokerWarning = "The embedded MQTT broker listens on 10.211.0.1:1883, beyond this machine, without TLS";
            const string EndpointWarning = "The node's cluster endpoint listens on 10.211.0.1";
            await HostFixture.AwaitAsync(
                () => (cli.Output.Contains(BrokerWarning, StringComparison.Ordinal) && cli.Output.Contains(EndpointWarning, StringComparison.Ordinal)) || cli.Process.HasExited,
                TimeSpan.FromSeconds(30),
                () => cli.Output);
            Assert.Contains(BrokerWarning, cli.Output);
            Assert.Contains(EndpointWarning, cli.Output);
        }
        finally
        {
            cli.Stop();
        }
    }

    // IPv4 loopback also as IPv6 sees it (Akka's remoting binds [::ffff:127.0.0.1]).
    private static bool IsLoopback(string address) =>
        address.StartsWith("127.", StringComparison.Ordinal)
        || address.StartsWith("[::1]:", StringComparison.Ordinal)
        || address.StartsWith("[::ffff:127.", StringComparison.Ordinal);

    /// <summary>The local addresses of the TCP sockets a process listens on, as ss prints them (127.0.0.1:1883, [::1]:1883).</summary>
    private static List<string> ListeningAddresses(int pid)
    {
        var info = new ProcessStartInfo("ss", "-ltnpH") { RedirectStandardOutput = true, UseShellExecute = false };
        using var ss = Process.Start(info)!;
        var output = ss.StandardOutput.ReadToEnd();
        ss.WaitForExit();
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line.Contains($"pid={pid},", StringComparison.Ordinal))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3])
            .ToList();
    }
}

/// <summary>One node per data directory: a second one refuses to start instead of replaying and appending beside the first.</summary>
public sealed class DataDirectorySpecs
{
    [Fact]
    public async Task Should_refuse_a_second_node_on_a_data_directory_in_use_with_exit_code_4()
    {
        // Arrange: a node running in ./data
        var directory = HostFixture.NewDataDirectory();
        using var first = CliProcess.Start(directory, "run", "--mqtt-port", HostFixture.FreePortNumber().ToString(CultureInfo.InvariantCulture));
        try
        {
            await HostFixture.AwaitAsync(() => first.Output.Contains("Ctrl+C stops", StringComparison.Ordinal) || first.Process.HasExited, TimeSpan.FromSeconds(90), () => first.Output);

            // Act: a second one on the same directory (another port, so only the directory collides)
            var (exit, output) = await CliProcess.RunAsync(directory, TimeSpan.FromSeconds(90),
                "run", "--mqtt-port", HostFixture.FreePortNumber().ToString(CultureInfo.InvariantCulture), "--duration", "5");

            // Assert
            Assert.Equal(4, exit);
            Assert.Contains("is in use by process " + first.Process.Id.ToString(CultureInfo.InvariantCulture), output);
            Assert.False(first.Process.HasExited, first.Output);
        }
        finally
        {
            first.Stop();
        }
    }
}
