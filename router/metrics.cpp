#include "router/metrics.hpp"

#include "router/version.hpp"

#include <dirent.h>
#include <prometheus/collectable.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

namespace sallyport::router {
namespace {

// Process figures read on every scrape, so they are never stale.
class ProcessCollector : public prometheus::Collectable {
 public:
  ProcessCollector()
      : start_time_(std::chrono::duration<double>(
                        std::chrono::system_clock::now().time_since_epoch()).count()) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    out.push_back(single_sample_family("sallyport_process_resident_memory_bytes",
                               "Resident set size of the sallyport process in bytes.",
                                       prometheus::MetricType::Gauge, rss_bytes()));
    out.push_back(single_sample_family("sallyport_process_open_fds",
                               "Open file descriptors of the sallyport process.",
                                       prometheus::MetricType::Gauge, open_fds()));
    out.push_back(single_sample_family("sallyport_process_start_time_seconds",
                               "Start time of the process since the Unix epoch in seconds.",
                               prometheus::MetricType::Gauge, start_time_));
    auto info = single_sample_family("sallyport_build_info", "Build information; the value is always 1.",
                                     prometheus::MetricType::Gauge, 1);
    info.metric[0].label.push_back({"version", std::string(kVersion)});
    out.push_back(std::move(info));
    return out;
  }

 private:
  static double rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    long pages_total = 0, pages_resident = 0;
    statm >> pages_total >> pages_resident;
    return static_cast<double>(pages_resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
  }
  static double open_fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (!dir) return 0;
    double n = 0;
    while (const dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') n += 1;
    }
    ::closedir(dir);
    return n - 1;  // the directory stream itself
  }
  double start_time_;
};

}  // namespace

prometheus::MetricFamily metric_family(std::string name, std::string help,
                                       prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void add_sample(prometheus::MetricFamily& family, double value,
                std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric metric;
  if (family.type == prometheus::MetricType::Counter) metric.counter.value = value;
  else metric.gauge.value = value;
  metric.label = std::move(labels);
  family.metric.push_back(std::move(metric));
}

prometheus::MetricFamily single_sample_family(std::string name, std::string help,
                                              prometheus::MetricType type, double value) {
  auto family = metric_family(std::move(name), std::move(help), type);
  add_sample(family, value);
  return family;
}

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      process_(std::make_shared<ProcessCollector>()) {}

std::string Metrics::expose() const {
  auto families = registry_->Collect();
  auto process = process_->Collect();
  families.insert(families.end(), process.begin(), process.end());
  {
    std::lock_guard lock(collectables_mutex_);
    for (const auto& weak : collectables_) {
      if (const auto c = weak.lock()) {
        auto more = c->Collect();
        families.insert(families.end(), more.begin(), more.end());
      }
    }
  }
  return prometheus::TextSerializer().Serialize(families);
}

void Metrics::add_collectable(std::weak_ptr<prometheus::Collectable> collectable) {
  std::lock_guard lock(collectables_mutex_);
  collectables_.push_back(std::move(collectable));
}

}  // namespace sallyport::router
